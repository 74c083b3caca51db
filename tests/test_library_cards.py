"""Cards that tell the truth, on the full archive: quoted questions, keyword searches and their nearby questions."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.corpus.text import fold
from assistant.web.api import json_api

pytestmark = pytest.mark.slow


def test_noah_gifts_reply_is_shown_answering_the_question_he_quoted(full_searcher):
    """Thread 9 asks "How to decide which tools…"; his reply quotes "[10:04 AM] Do small startups…", answers it."""
    answers = full_searcher.search("Do small startups really need MLOps or is it over engineering?", 5)
    noah = next(a for a in answers if a.id == "20210830-practical-mlops/9/noah-gift/0")
    assert noah.question == "Do small startups really need MLOps or is it over engineering?"
    assert noah.asker == "Doink" and noah.passage_text.startswith("[10:04 AM] Do small startups")


def test_kafka_answers_about_kafka_are_not_flagged_and_its_nearby_questions_hold_kafka(full_searcher):
    answers = full_searcher.search("kafka", 5)
    assert len(answers) == 5 and all("kafka" in fold(a.text + a.question) for a in answers)
    assert full_searcher.none_close("kafka", answers) is False
    nearby = full_searcher.related_questions("kafka", exclude=[a.id for a in answers])
    assert all("kafka" in fold(full_searcher.unit(q.answer_id).question) for q in nearby)
    assert not any("kaggle" in fold(q.question) for q in nearby)


def test_the_api_the_page_and_the_log_share_one_none_close_flag(full_searcher):
    app = FastAPI()
    app.include_router(json_api(full_searcher))
    client = TestClient(app)
    found = client.get("/api/search", params={"q": "great expectations"}).json()
    assert found["answers"] and found["none_close"] is False
    assert any("great expectations" in fold(a["text"]) for a in found["answers"])
    far = client.get("/api/search", params={"q": "how do I train my puppy to sit?", "closest": "true"}).json()
    assert far["answers"] and far["none_close"] is True
