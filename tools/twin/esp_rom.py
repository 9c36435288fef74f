"""The ESP32-S3's serial ROM loader, for the twin's bootloader state.

Enough of Espressif's serial protocol that unmodified esptool (with --no-stub)
detects the chip, attaches its flash, writes (plain or deflated), checks MD5
and resets it. SLIP frames carry commands (direction 0, op, length, checksum,
data) and responses (direction 1, op, length, value, data, then 4 status bytes
as the S3's ROM sends them). The flash is the twin's flash file; SPI flash
commands that esptool runs through the SPI peripheral's registers (RDID,
SFDP, status) are answered as a 16 MB-class NOR chip would.

The stub loader (RAM upload) is not modelled: MEM_* commands are refused as
the ROM refuses what it does not know, so esptool needs --no-stub here.
"""

import hashlib
import struct
import zlib

# Commands (esptool's ESP_CMDS)
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5, GET_SECURITY_INFO = 0x13, 0x14

# ROM error codes (second status byte)
ERR_INVALID_MESSAGE, ERR_FAILED, ERR_BAD_CRC, ERR_WRITE, ERR_READ, ERR_DEFLATE = 0x05, 0x06, 0x07, 0x08, 0x09, 0x0B

CHIP_ID = 9  # ESP32-S3 in the image header and in GET_SECURITY_INFO
SECTOR = 4096
CHECKSUM_SEED = 0xEF

# SPI0/1 peripheral registers esptool drives for raw flash commands
SPI_BASE = 0x60002000
SPI_CMD, SPI_ADDR, SPI_USR2, SPI_W0 = SPI_BASE, SPI_BASE + 0x04, SPI_BASE + 0x20, SPI_BASE + 0x58
SPI_CMD_USR = 1 << 18
RTC_WDTCONFIG0 = 0x60008098  # a watchdog armed here resets the chip (esptool's watchdog-reset)
JEDEC_VENDOR = 0xEF  # a Winbond-style id: vendor, memory type, capacity (log2 of the size)


def slip(packet):
    return b"\xc0" + packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class RomLoader:
    """One session of download mode; `supervisor` gives the flash file, the
    wire to the host (`to_host.send`) and `hard_reset`."""

    def __init__(self, supervisor):
        self.sup = supervisor
        self.flash_path = supervisor.state.flash
        self.flash_size = supervisor.board.flash.size
        self.frame = None  # bytearray while inside a SLIP frame
        self.escape = False
        self.regs = {}
        self.write = None  # (next offset, end, blocks, block size, inflater or None, last seq)
        self.resetting = False

    # ---- framing ----

    def feed(self, data):
        for b in data:
            if b == 0xC0:
                if self.frame:
                    self.handle(bytes(self.frame))
                self.frame = bytearray()
                self.escape = False
            elif self.frame is None:
                continue  # noise between frames, as the ROM ignores it
            elif self.escape:
                self.frame.append({0xDC: 0xC0, 0xDD: 0xDB}.get(b, b))
                self.escape = False
            elif b == 0xDB:
                self.escape = True
            else:
                self.frame.append(b)

    def reply(self, op, value=0, data=b"", error=0):
        status = bytes([1 if error else 0, error, 0, 0])
        body = data + status
        self.sup.to_host.send(slip(struct.pack("<BBHI", 1, op, len(body), value) + body))

    # ---- commands ----

    def handle(self, pkt):
        if self.resetting or len(pkt) < 8 or pkt[0] != 0:
            return
        _, op, size, chk = struct.unpack_from("<BBHI", pkt)
        data = pkt[8:8 + size]
        handler = self.HANDLERS.get(op)
        if handler is None:
            self.reply(op, error=ERR_INVALID_MESSAGE)
            return
        handler(self, op, data, chk)

    def do_sync(self, op, data, chk):
        if data != b"\x07\x07\x12\x20" + b"\x55" * 32:
            return  # not a sync: the ROM stays quiet
        for _ in range(8):  # the ROM answers a sync eight times
            self.reply(op, value=0x20120707)

    def do_read_reg(self, op, data, chk):
        (addr,) = struct.unpack_from("<I", data)
        self.reply(op, value=self.regs.get(addr, 0))

    def do_write_reg(self, op, data, chk):
        for i in range(0, len(data) - 15, 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", data, i)
            self.regs[addr] = (self.regs.get(addr, 0) & ~mask) | (value & mask)
            if addr == SPI_CMD and value & SPI_CMD_USR:
                self.spi_command()
        self.reply(op)
        if self.regs.get(RTC_WDTCONFIG0, 0) & (1 << 31):
            self.reset()

    def spi_command(self):
        cmd = self.regs.get(SPI_USR2, 0) & 0xFF
        addr = self.regs.get(SPI_ADDR, 0)
        if cmd == 0x9F:  # RDID
            result = JEDEC_VENDOR | 0x40 << 8 | (self.flash_size.bit_length() - 1) << 16
        elif cmd == 0x5A:  # RDSFDP
            result = {0: 0x50444653, 0x10: JEDEC_VENDOR}.get(addr, 0)
        else:  # status registers, resets, power-down release: all idle
            result = 0
        self.regs[SPI_W0] = result
        self.regs[SPI_CMD] = 0  # done at once

    def do_ok(self, op, data, chk):
        self.reply(op)

    def do_security_info(self, op, data, chk):
        self.reply(op, data=struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0, CHIP_ID, 0))

    def do_begin(self, op, data, chk):
        size, blocks, block_size, offset = struct.unpack_from("<IIII", data)
        end = offset + size
        if end > self.flash_size or offset % SECTOR:
            self.reply(op, error=ERR_FAILED)
            return
        first, last = offset, -(-end // SECTOR) * SECTOR
        with open(self.flash_path, "r+b") as f:
            f.seek(first)
            f.write(b"\xff" * (last - first))
        inflater = zlib.decompressobj() if op == FLASH_DEFL_BEGIN else None
        self.write = [offset, max(end, last), blocks, block_size, inflater, -1]
        self.reply(op)

    def do_data(self, op, data, chk):
        if self.write is None or len(data) < 16:
            self.reply(op, error=ERR_FAILED)
            return
        size, seq = struct.unpack_from("<II", data)
        block = data[16:16 + size]
        check = CHECKSUM_SEED
        for b in block:
            check ^= b
        if len(block) != size or check != chk & 0xFF:
            self.reply(op, error=ERR_BAD_CRC)
            return
        w = self.write
        if seq == w[5]:
            self.reply(op)  # esptool resends a block it got no answer for: written already
            return
        if seq != w[5] + 1:
            self.reply(op, error=ERR_FAILED)
            return
        if w[4] is not None:
            try:
                block = w[4].decompress(block)
            except zlib.error:
                self.reply(op, error=ERR_DEFLATE)
                return
        elif len(block) < w[3]:
            block += b"\xff" * (w[3] - len(block))
        if w[0] + len(block) > w[1]:
            self.reply(op, error=ERR_WRITE)
            return
        with open(self.flash_path, "r+b") as f:
            f.seek(w[0])
            f.write(block)
        w[0] += len(block)
        w[5] = seq
        self.reply(op)

    def do_end(self, op, data, chk):
        self.write = None
        self.reply(op)
        stay = struct.unpack_from("<I", data)[0] if len(data) >= 4 else 1
        if not stay:
            self.reset()

    def do_md5(self, op, data, chk):
        addr, size = struct.unpack_from("<II", data)
        if addr + size > self.flash_size:
            self.reply(op, error=ERR_READ)
            return
        with open(self.flash_path, "rb") as f:
            f.seek(addr)
            digest = hashlib.md5(f.read(size)).hexdigest().encode()
        self.reply(op, data=digest)

    def reset(self):
        """Leave download mode: the chip boots what is in flash (the VM, on a twin)."""
        self.resetting = True
        self.sup.loop.call_later(0.01, self.sup.hard_reset, "hard")

    HANDLERS = {
        SYNC: do_sync,
        READ_REG: do_read_reg,
        WRITE_REG: do_write_reg,
        SPI_ATTACH: do_ok,
        SPI_SET_PARAMS: do_ok,
        CHANGE_BAUDRATE: do_ok,
        GET_SECURITY_INFO: do_security_info,
        FLASH_BEGIN: do_begin,
        FLASH_DATA: do_data,
        FLASH_END: do_end,
        FLASH_DEFL_BEGIN: do_begin,
        FLASH_DEFL_DATA: do_data,
        FLASH_DEFL_END: do_end,
        SPI_FLASH_MD5: do_md5,
    }
