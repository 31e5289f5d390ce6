"""Runs localstripe on loopback only, with its state in memory.

localstripe itself listens on every interface and keeps its state in
/tmp/localstripe.pickle, shared by every copy on the machine and kept across
restarts. A local stack wants neither: each stack starts clean (as moto does)
and nothing listens beyond 127.0.0.1.
"""

import argparse
import logging
import socket

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()

    resources.Store.try_load_from_disk = lambda self: None
    resources.Store.dump_to_disk = lambda self: None

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    logging.basicConfig(level=logging.WARNING)
    web.run_app(server.app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
