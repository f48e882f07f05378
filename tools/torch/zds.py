"""Reading and writing zimt's .zds datasets (layout: include/zimt/data/zds.hpp).

The reader checks what the C++ reader checks, in the same order, and raises
ZdsError("<path>: <what is wrong>"); the writer exists so the tests can make a
small dataset without the zimt binary.
"""
import os
import struct
import zlib

import numpy as np

MAGIC = b"ZIMTDS\0\0"
VERSION = 1
HEADER_SIZE = 64
ELEMENT_U8 = 1
LABEL_U8 = 1
MAX_CLASSES = 256
ALIGN = 64
HEADER_FORMAT = "<8sIIQIIIIIIQII"  # 64 bytes, little-endian, see zds.hpp


class ZdsError(Exception):
    pass


def _align_up(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


class Dataset:
    """images: u8 array (N,C,H,W); labels: u8 array (N,); classes: K."""

    def __init__(self, images, labels, classes):
        self.images = images
        self.labels = labels
        self.classes = classes

    def __len__(self):
        return self.labels.shape[0]

    @property
    def shape(self):
        return tuple(self.images.shape[1:])


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER_SIZE:
        raise ZdsError(f"{path}: file is {len(data)} bytes, shorter than the 64-byte header")
    (magic, version, header_size, count, channels, height, width, element_type,
     classes, label_type, labels_offset, payload_crc, header_crc) = struct.unpack(
        HEADER_FORMAT, data[:HEADER_SIZE])
    if magic != MAGIC:
        raise ZdsError(f"{path}: not a .zds file (magic {magic!r})")
    if zlib.crc32(data[:60]) != header_crc:
        raise ZdsError(f"{path}: header checksum mismatch (corrupt header)")
    if version != VERSION:
        raise ZdsError(f"{path}: unsupported .zds version {version} (this reader knows {VERSION})")
    if header_size != HEADER_SIZE:
        raise ZdsError(f"{path}: header_size is {header_size}, expected {HEADER_SIZE}")
    if element_type != ELEMENT_U8 or label_type != LABEL_U8:
        raise ZdsError(f"{path}: unsupported element/label type {element_type}/{label_type}")
    if min(channels, height, width) < 1 or not 1 <= classes <= MAX_CLASSES:
        raise ZdsError(f"{path}: shape {channels}x{height}x{width} or classes {classes} out of range")
    image_bytes = channels * height * width
    expected_labels_offset = _align_up(HEADER_SIZE + count * image_bytes)
    if labels_offset != expected_labels_offset or len(data) != labels_offset + count:
        raise ZdsError(f"{path}: file is {len(data)} bytes, header (N={count}, "
                       f"{channels}x{height}x{width}) needs {expected_labels_offset + count}")
    if zlib.crc32(data[HEADER_SIZE:]) != payload_crc:
        raise ZdsError(f"{path}: payload checksum mismatch (corrupt or truncated data)")
    buf = np.frombuffer(data, dtype=np.uint8)
    images = buf[HEADER_SIZE:HEADER_SIZE + count * image_bytes].reshape(count, channels, height, width)
    labels = buf[labels_offset:labels_offset + count]
    if count and int(labels.max()) >= classes:
        bad = int(np.argmax(labels >= classes))
        raise ZdsError(f"{path}: label {int(labels[bad])} of sample {bad} is >= classes {classes}")
    return Dataset(images, labels, classes)


def write(path, images, labels, classes):
    """images: u8 array (N,C,H,W); labels: u8 array (N,). Written atomically."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    count, channels, height, width = images.shape
    labels_offset = _align_up(HEADER_SIZE + images.nbytes)
    payload = images.tobytes() + bytes(labels_offset - HEADER_SIZE - images.nbytes) + labels.tobytes()
    head = struct.pack("<8sIIQIIIIIIQI", MAGIC, VERSION, HEADER_SIZE, count, channels, height,
                       width, ELEMENT_U8, classes, LABEL_U8, labels_offset, zlib.crc32(payload))
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(head + struct.pack("<I", zlib.crc32(head)) + payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
