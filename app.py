"""Start Ask the Author in the browser: `python app.py [--host H] [--port P] [--data DIR]... [--index DIR]`.

Builds the index first when it is missing or older than the archives, then serves the page, the
`/search` API and the MCP server on 127.0.0.1:7860 by default. Never opens a public share link.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no calls home, works offline

from assistant.index import (  # noqa: E402
    DEFAULT_DATA,
    IndexLoadError,
    add_data_argument,
    build_index,
    default_index_path,
    load_built_index,
    read_manifest,
    stale_reason,
)
from assistant.embedding import Embedder  # noqa: E402
from assistant.searcher import Searcher  # noqa: E402
from assistant.ui import build_app, launch  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the Ask the Author web app.")
    env = os.environ.get
    parser.add_argument(
        "--host", default=env("ASSISTANT_HOST", "127.0.0.1"), help="default: 127.0.0.1, $ASSISTANT_HOST"
    )
    parser.add_argument(
        "--port", type=int, default=env("ASSISTANT_PORT", "7860"), help="default: 7860, $ASSISTANT_PORT"
    )
    add_data_argument(parser)
    parser.add_argument(
        "--index", type=Path, default=default_index_path(), metavar="DIR", help="default: index/, $ASSISTANT_INDEX"
    )
    return parser.parse_args(argv)


def ensure_index(data: Sequence[Path], index: Path, embedder: Embedder) -> None:
    """Build the index when it is missing or stale; a damaged one raises IndexLoadError instead of being overwritten."""
    if (index / "current").exists():
        read_manifest(index)
        reason = stale_reason(data, index)
    else:
        reason = "there is none yet"
    if reason is None:
        return
    print(f"Building the index at {index} ({reason}) ...", flush=True)
    print(build_index(data, index, progress=True, embedder=embedder), flush=True)


def warm_up(searcher: Searcher) -> None:
    """Load the embedding model now, so the first visitor does not wait for it."""
    searcher.search("warm up", 1, min_score=0)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        embedder = Embedder()  # one model for the build and the searches
        ensure_index(args.data or [DEFAULT_DATA], args.index, embedder)
        searcher = Searcher(load_built_index(args.index), embedder)
        warm_up(searcher)
    except (IndexLoadError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        launch(build_app(searcher), args.host, args.port)
    except OSError as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
