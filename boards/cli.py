"""`pocket boards`: list the defined boards."""

from . import catalog


def register(sub):
    p = sub.add_parser("boards", help="list the supported boards", description="List the supported boards.")
    p.set_defaults(func=run)


def run(args):
    for name in catalog.names():
        b = catalog.load(name)
        print(f"{b.name:18} {b.title}  [{b.port}, {b.vid:04X}:{b.pid:04X}, flash {b.flash.size // 1048576} MB]")
    return 0
