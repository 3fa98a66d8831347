#!/usr/bin/env python3
"""Decodes a raw-encoded defmt stream (stdin) with the format strings of the firmware
ELF, as `llvm-nm` lists them; prints one `LEVEL message` line per log frame.

Covers what the firmware logs: `{=str}`, unsigned integers, `{=bool}`, nested
`Format` values (`{}`, `{=?}`), derived enums and format sequences, no timestamp.
Anything else is an error. Usage: defmt_decode.py LLVM_NM ELF < stream
"""
import json
import re
import struct
import subprocess
import sys

LEVELS = {"defmt_error": "ERROR", "defmt_warn": "WARN", "defmt_info": "INFO",
          "defmt_debug": "DEBUG", "defmt_trace": "TRACE"}
UINTS = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "usize": 4}


def table(nm, elf):
    out = subprocess.run([nm, elf], check=True, capture_output=True, text=True).stdout
    strings = {}
    for line in out.splitlines():
        addr, _, name = line.split(" ", 2)
        if name.startswith("{"):
            sym = json.loads(name)
            strings[int(addr, 16)] = (sym["tag"], sym["data"])
    return strings


class Stream:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("stream ends inside a frame")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n):
        return int.from_bytes(self.take(n), "little")


def split_top(fmt, sep):
    """Splits `fmt` at `sep` outside of braces."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(fmt):
        depth += c == "{"
        depth -= c == "}"
        if c == sep and depth == 0:
            parts.append(fmt[start:i])
            start = i + 1
    return parts + [fmt[start:]]


def render(fmt, s, strings):
    if fmt == "{=__internal_FormatSequence}":
        text = ""
        while tag := s.uint(2):
            text += render(strings[tag][1], s, strings)
        return text
    variants = split_top(fmt, "|")
    if len(variants) > 1:
        fmt = variants[s.uint(1)]
    text, i = "", 0
    for m in re.finditer(r"\{\{|\}\}|\{([^{}]*)\}", fmt):
        text += fmt[i:m.start()]
        i = m.end()
        if m.group(0) in ("{{", "}}"):
            text += m.group(0)[0]
            continue
        kind = m.group(1).split(":")[0].lstrip("=")
        if kind in ("", "?"):
            text += render(strings[s.uint(2)][1], s, strings)
        elif kind == "str":
            text += s.take(s.uint(4)).decode()
        elif kind in UINTS:
            text += str(s.uint(UINTS[kind]))
        elif kind == "bool":
            text += "true" if s.uint(1) else "false"
        else:
            raise ValueError(f"parameter {m.group(0)} is not decoded here")
    return text + fmt[i:]


def main():
    strings = table(sys.argv[1], sys.argv[2])
    s = Stream(sys.stdin.buffer.read())
    while s.pos < len(s.data):
        tag, fmt = strings[s.uint(2)]
        if tag not in LEVELS:
            raise ValueError(f"a frame starts with {tag}, not a log level")
        print(LEVELS[tag], render(fmt, s, strings))


if __name__ == "__main__":
    main()
