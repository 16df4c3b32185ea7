"""Draw one page for the review page in a process of its own, under a memory cap.

    python -m submissions.render_child <page> <rotate> <memory MB> <transform JSON> \
        [pdf|image [<CPU seconds>]] < file > png

A PDF's content can cost gigabytes to parse however small its page renders (a 612-KB
file holding 600 MB of compressed drawing operators took 1.5 GB of the web process, four
reviewers at once 6 GB): here it costs a child process, which the cap stops. An image
too: a 400-KB PNG of 100 MP, which extraction reads, took ~1 GB and 16 s to decode.
Exit status: 0 with the PNG on stdout, NO_SUCH_PAGE or NOT_DRAWN (a page there that
cannot be drawn: pages.PageNotDrawn) with the reason on stderr, else failed. Past its CPU seconds (RENDER_SECONDS unless given) the kernel stops it: the web
process kills it at its timeout, but a web worker killed itself (SIGKILL, past gunicorn's
grace) cannot, and the child drew on, minutes of a core, for a page no one waited for.
"""

import json
import math
import resource
import sys

from submissions.pages import RENDER_SECONDS, NoSuchPage, PageNotDrawn, mapped_bytes, render_png

NO_SUCH_PAGE = 3
NOT_DRAWN = 4
# On top of what the interpreter and its libraries map at start: a receipt or an A4
# page at the review's scale takes well under 100 MB.
MEMORY_MB = 768


def main() -> int:
    page, rotate, memory_mb = (int(arg) for arg in sys.argv[1:4])
    transform = json.loads(sys.argv[4])
    pdf = sys.argv[5:6] != ["image"]
    seconds = int(sys.argv[6]) if len(sys.argv) > 6 else math.ceil(RENDER_SECONDS)
    limit = mapped_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # SIGXCPU at the soft limit ends it (its default action); SIGKILL a second later.
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    data = sys.stdin.buffer.read()
    try:
        png = render_png(data, pdf=pdf, page=page, transform=transform, rotate=rotate)
    except PageNotDrawn as error:
        sys.stderr.write(str(error))
        return NOT_DRAWN
    except NoSuchPage as error:
        sys.stderr.write(str(error))
        return NO_SUCH_PAGE
    sys.stdout.buffer.write(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
