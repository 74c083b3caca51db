"""Start Ask the Author: `python app.py [--host H] [--port P] [--data DIR]... [--people FILE] [--index DIR]`.

Builds the index first when it is missing or older than the archives, then serves the page, the
Gradio `/search` API, the MCP server and the JSON API on 127.0.0.1:7860 by default. Never opens a
public share link.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from assistant.embedding import Embedder
from assistant.index import add_data_argument, add_people_argument
from assistant.searcher import Searcher
from assistant.store import (
    IndexLoadError,
    IndexWriteError,
    build_inputs,
    default_index_path,
    ensure_index,
    load_built_index,
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the Ask the Author web app.")
    env = os.environ.get
    parser.add_argument(
        "--host", default=env("ASSISTANT_HOST", "127.0.0.1"), help="default: 127.0.0.1, $ASSISTANT_HOST"
    )
    parser.add_argument(
        "--port", type=int, default=env("ASSISTANT_PORT", "7860"), help="default: 7860, $ASSISTANT_PORT"
    )
    add_data_argument(parser, "default: the folders the index was built from, else data/")
    add_people_argument(parser, "default: the one the index was built with")
    parser.add_argument(
        "--index", type=Path, default=default_index_path(), metavar="DIR", help="default: index/, $ASSISTANT_INDEX"
    )
    return parser.parse_args(argv)


def warm_up(searcher: Searcher) -> None:
    """Load the embedding model now, so the first visitor does not wait for it."""
    searcher.search("warm up", 1, min_score=0)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        inputs = build_inputs(args.index, args.data, args.people)  # a rebuild reads what the last build read
        embedder = Embedder(inputs.model)  # one model for the build and the searches
        ensure_index(inputs, args.index, embedder)
        searcher = Searcher(load_built_index(args.index, inputs.model), embedder)
        warm_up(searcher)
    except (IndexLoadError, IndexWriteError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from assistant.web.serve import serve  # gradio loads only once there is something to serve

    try:
        serve(searcher, args.host, args.port)
    except OSError as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
