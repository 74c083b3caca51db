"""Questions that name an author, before and after the boost: `python benchmarks/authors_named.py [--index DIR]`.

Sixteen questions written for this (none from eval/), each naming one author the index holds; for each, where
that author's first answer ranks in the top 5 and how many of the 5 are theirs, without the boost (0) and with
Searcher's AUTHOR_NAMED_BOOST. Prints a Markdown table and the mean reciprocal rank, top-1 and top-3 counts.
"""

import argparse

from assistant.searching.searcher import AUTHOR_NAMED_BOOST, load_index

QUESTIONS = [
    ("what does Kleppmann think about stream processing?", "Martin Kleppmann"),
    ("Noah Gift on whether startups need MLOps", "Noah Gift"),
    ("what would Chip Huyen say about feature stores?", "Chip Huyen"),
    ("Raschka's advice on fine-tuning small language models", "Sebastian Raschka"),
    ("does Joe Reis think data engineers need to know Spark?", "Joe Reis"),
    ("how does Christoph Molnar explain SHAP values?", "Christoph Molnar"),
    ("what does Alexey Grigorev recommend for deploying models?", "Alexey Grigorev"),
    ("Ville Tuulos on why data scientists need infrastructure", "Ville Tuulos"),
    ("what does Hapke say about TFX pipelines?", "Hannes Hapke"),
    ("Kim Falk on evaluating recommender systems", "Kim Falk"),
    ("what does Denise Gosnell think about graph databases vs relational?", "Denise Gosnell"),
    ("Luca Massaron tips for a first Kaggle competition", "Luca Massaron"),
    ("what does Emmanuel Raj say about MLOps in small organizations?", "Emmanuel Raj"),
    ("how does Josh Fischer describe backpressure in streaming?", "Josh Fischer"),
    ("Matthew Housley on data quality in pipelines", "Matthew Housley"),
    ("what would Andy Petrella do about data observability?", "Andy Petrella"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="index folder (default: $ASSISTANT_INDEX or index/)")
    searcher = load_index(parser.parse_args().index)
    boosts = (0.0, AUTHOR_NAMED_BOOST)
    firsts: dict[float, list[int | None]] = {boost: [] for boost in boosts}
    print(f"| Question | Author | First of theirs, 5 shown (no boost) | With boost {AUTHOR_NAMED_BOOST} |")
    print("|---|---|---|---|")
    for question, author in QUESTIONS:
        cells = []
        for boost in boosts:
            answers = searcher.search(question, 5, min_score=0.0, boost=boost)
            ranks = [rank for rank, answer in enumerate(answers, start=1) if answer.author == author]
            firsts[boost].append(ranks[0] if ranks else None)
            cells.append(f"{ranks[0] if ranks else '—'} ({len(ranks)}/5)")
        print(f"| {question} | {author} | {cells[0]} | {cells[1]} |")
    for boost in boosts:
        ranks = firsts[boost]
        mrr = sum(1 / r for r in ranks if r) / len(ranks)
        top1, top3 = sum(r == 1 for r in ranks), sum(bool(r) and r <= 3 for r in ranks)
        print(f"\nboost {boost}: MRR {mrr:.3f}, first {top1}/{len(ranks)}, top 3 {top3}/{len(ranks)}")


if __name__ == "__main__":
    main()
