import json

import gadget
from gadget import fast, words


def start():
    with open("/board.json") as f:
        board = json.load(f)
    total = fast.checksum(bytearray(b"pocket agent"))
    print("app: %s on %s, checksum %d, %d words, modules from %s %s %s" % (
        gadget.VERSION, board["name"], total, words.count(), __file__, fast.__file__, gadget.__file__))
