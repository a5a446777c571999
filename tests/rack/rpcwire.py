"""LegoOS RPC wire helpers for the rack tests' Python fuzzers: the checksum
and header of include/uapi/lego/rpc.h, written again in Python on purpose
(the tests must not trust the code they test). Not a test by itself."""
import struct

HDR_FMT = '<HBBHHIIQIIHHiII'   # struct lego_rpc_hdr, 48 bytes, little-endian


def csum(b):
    """lego_rpc_csum: FNV-1a over 64-bit LE words, zero-padded tail, folded."""
    h = 0xcbf29ce484222325
    n = len(b) - len(b) % 8
    for i in range(0, n, 8):
        h = ((h ^ int.from_bytes(b[i:i + 8], 'little')) * 0x100000001b3) & (2**64 - 1)
    if len(b) % 8:
        w = int.from_bytes(b[n:] + bytes(8 - len(b) % 8), 'little')
        h = ((h ^ w ^ ((len(b) % 8) << 56)) * 0x100000001b3) & (2**64 - 1)
    return (h ^ (h >> 32)) & 0xffffffff


def header(magic=0x474c, version=1, type=1, opcode=1, flags=0, src=0, epoch=5, call=1,
           msg_len=10, off=0, flen=10, res=0, status=0, mcsum=0, good_csum=True):
    """A struct lego_rpc_hdr; hdr_csum is right unless good_csum is False."""
    b = struct.pack(HDR_FMT, magic, version, type, opcode, flags, src, epoch, call, msg_len,
                    off, flen, res, status, mcsum, 0)
    return b[:-4] + struct.pack('<I', csum(b)) if good_csum else b
