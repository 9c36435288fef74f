"""Two link endpoints over a lossy simulated wire, driven by simulated time.
Runs unchanged in CPython and in the MicroPython VM (same pseudo-random
faults), so the session logic is checked to behave the same in both."""

try:
    import link
    import linkio
except ImportError:
    from pocket_agent.firmware import link, linkio


class Wire:
    """Whole writes in flight one way, with seeded drops and corruption."""

    def __init__(self, seed, drop, corrupt):
        self.x = seed
        self.drop = drop
        self.corrupt = corrupt
        self.queue = []
        self.dropped = 0
        self.corrupted = 0
        self.dropped_audio = 0

    def rand(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n

    def write(self, buf, n):
        data = bytearray(buf[:n])
        audio = data[3] == (link.AUDIO_CHUNK ^ 0xF0)
        if self.rand(1000) < self.drop:
            self.dropped += 1
            self.dropped_audio += audio
            return
        if self.rand(1000) < self.corrupt:
            data[2 + self.rand(n - 2)] ^= 0x04
            self.corrupted += 1
            self.dropped_audio += audio
        self.queue.append(bytes(data))

    def deliver(self, ep):
        ep.feed(b"".join(self.queue))
        self.queue = []


def run(seed=7, drop=80, corrupt=40, messages=150, reset_at=1500):
    to_board = Wire(seed, drop, corrupt)
    to_host = Wire(seed + 1, drop, corrupt)
    log = {"host_got": [], "board_got": [], "events": []}

    def make_board(boot):
        return linkio.Endpoint(to_host.write, link.ROLE_BOARD, boot, "board", "fw", slots=4)

    host = linkio.Endpoint(to_board.write, link.ROLE_HOST, 1, "host", "bridge", slots=16)
    board = make_board(100)
    boards = [board]
    display = link.type_of("display_text")
    button = link.type_of("button")
    sent_h = sent_b = 0
    chunk = sent_audio = 0
    data = bytearray(64)
    for tick in range(4000):
        now = tick * 10
        if tick == reset_at:
            log["events"].append(["lost_with_board", board.pending()])
            board = make_board(200)  # the board resets: its RAM and session are gone
            boards.append(board)
            chunk = 0
            log["events"].append(["reset", now])
        to_board.deliver(board)
        to_host.deliver(host)
        for ep, name, got in ((host, "host", log["host_got"]), (board, "board", log["board_got"])):
            ep.now = now
            while True:
                ev = ep.poll(now)
                if ev == 0:
                    break
                if ev == linkio.LINK_UP:
                    log["events"].append([name, "up", now, ep.peer_reset])
                elif ev == linkio.LINK_DOWN:
                    log["events"].append([name, "down", now])
                elif ev > 0 and ev != link.AUDIO_CHUNK:
                    v = link.unpack(ev, ep.dec.body, link.HEADER, link.HEADER + ep.dec.length)
                    got.append(v[-1] if ev == display else v[2])
        if sent_h < messages and tick % 7 == 0 and host.send(display, (0, 0, "m%d" % sent_h), now):
            sent_h += 1
        if sent_b < messages and tick % 11 == 0 and board.send(button, (0, 0, sent_b), now):
            sent_b += 1
        if board.up and tick % 4 == 0:
            n = 32
            board.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + n] = data[:n]
            if board.send_audio(1, chunk, 0, 0, 2 * n, n):
                chunk += 1
                sent_audio += 1
    return {
        "host_got": log["host_got"], "board_got": log["board_got"], "events": log["events"],
        "sent": [sent_h, sent_b], "pending": [host.pending(), board.pending()],
        "faults": [to_board.dropped, to_board.corrupted, to_host.dropped, to_host.corrupted],
        "audio": [sent_audio, host.rx_chunks, host.lost_chunks, to_host.dropped_audio],
        "host_stats": host.stats(), "boards_dups": [b.dups for b in boards],
    }


def main():
    import json
    print(json.dumps(run()))
