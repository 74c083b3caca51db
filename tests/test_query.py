"""Cleaning real messages before matching: greetings, thanks and addressee names go, the question stays."""

from __future__ import annotations

from assistant.searching.query import clean_question, display_question, full_names

NAMES = full_names(["Serg Masís", "Sebastian Raschka", "Kim Falk", "Alexey Grigorev"])


def test_greeting_name_and_thanks_are_dropped():
    message = "Hi Serg Masís, thank you for doing this! How could we attract artists into the ML field?"
    assert clean_question(message, NAMES) == "How could we attract artists into the ML field?"


def test_a_name_written_without_accents_or_as_a_mention_is_dropped_too():
    assert clean_question("@Serg Masis what about SHAP?", NAMES) == "what about SHAP?"
    assert (
        clean_question("Sebastian Raschka As a beginner, how do I learn RAG?", NAMES)
        == "As a beginner, how do I learn RAG?"
    )


def test_trailing_pleasantries_are_dropped_and_questions_kept():
    message = "Is it possible to do client side recommendations? Thanks in advance! Great book."
    assert clean_question(message, NAMES) == "Is it possible to do client side recommendations?"


def test_a_paraphrased_question_is_left_as_it_is():
    question = "are there legal requirements for explainable AI, like GDPR right to explanation?"
    assert clean_question(question, NAMES) == question


def test_a_message_that_is_only_thanks_is_kept_rather_than_emptied():
    assert clean_question("Thanks Kim Falk!", NAMES) == "Thanks Kim Falk!"


def test_a_nearby_question_is_shown_without_greeting_thanks_name_or_markdown():
    message = "Hi Alexey, thanks for this! What are the _best practices_ for **MLOps** in a [startup](https://x.y)?"
    assert display_question(message, NAMES) == "What are the best practices for MLOps in a startup?"
    assert display_question("Hello Kim Falk! Thank you. should I use `implicit` for recsys?", NAMES) == (
        "Should I use implicit for recsys?"
    )


def test_a_long_nearby_question_is_cut_at_a_sentence_boundary_within_200_characters():
    message = "How do I start with MLOps? " + "I have tried many tools and none of them fit my team well. " * 6
    shown = display_question(message, NAMES)
    assert len(shown) <= 200 and shown.endswith(".") and shown.startswith("How do I start with MLOps?")
    one_sentence = display_question("why " + "really " * 60 + "slow?", NAMES)
    assert len(one_sentence) <= 200 and one_sentence.endswith("…")


def test_thanks_naming_a_first_name_go_from_a_nearby_question():
    message = "Thank you, Alexey, for sharing your thoughts! Should MLOps be a concern early on?"
    assert display_question(message, NAMES) == "Should MLOps be a concern early on?"
