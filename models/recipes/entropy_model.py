"""A learned entropy bottleneck (factorized prior) and the integer tables and rANS coder that code it.

Written here from the descriptions in Ballé et al., "Variational image compression with a scale
hyperprior" (ICLR 2018, appendix 6.1: the univariate non-parametric density model) and Matsubara et
al., "Supervised Compression for Resource-Constrained Edge Computing Systems" (WACV 2022, the
Entropic Student), and from Duda's asymmetric numeral systems as described in his 2013 paper
and in Giesen's "Interleaved entropy coders" (2014) notes (byte-wise renormalisation, 32-bit state).

* `EntropyBottleneck(C)`: one learned cumulative density per channel, c_c(x) = sigmoid(f_c(x)) with
  f_c a small monotone network (filters 1-3-3-3-1: softplus-positive matrices, biases, tanh gates).
  Training: y~ = y + U(-1/2, 1/2); likelihood p(y~) = c(y~ + 1/2) - c(y~ - 1/2); rate = sum -log2 p.
  Each channel also has a learned median m_c (an auxiliary loss |f_c(m_c)| drives f_c(m_c) to 0,
  i.e. c_c(m_c) = 1/2, without touching the density). Inference: symbol s = round(y - m_c) clamped to
  the channel's table range, y' = s + m_c.
* `build_tables()`: the integer tables both ends use: per channel the offset m_c (float32), the
  symbol range [lo_c, hi_c] and a cumulative frequency table of `PRECISION` = 16 bits (every symbol
  at least 1, total exactly 65536). The tables are computed once from the float model and stored as
  integers, so encoder and decoder agree bit for bit on any machine.
* `rans_encode()/rans_decode()`: the reference coder (pure Python integers): runtime/docs/feature-frame-v4.md
  section 5 specifies it; the Java `dev.splitrt.codec.RansCoder` must produce the same bytes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRECISION = 16                      # bits of the cumulative frequency tables
TOTAL = 1 << PRECISION
RANS_L = 1 << 23                    # lower bound of the normalised rANS state: x in [L, 256 L)
TAIL_MASS = 2.0 ** -20              # probability mass left outside each channel's symbol range
MAX_SYMBOLS = 1024                  # per channel; a wider range is cut to this (the ends clamp)
TABLE_FORMAT = "splitrt-factorized-cdf"
TABLE_VERSION = 1


class EntropyBottleneck(nn.Module):
    """Per-channel factorized density (Ballé 2018, appendix 6.1), filters (3, 3, 3)."""

    def __init__(self, channels: int, filters: Sequence[int] = (3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        self.channels = channels
        dims = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1.0 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(len(filters) + 1):
            init = math.log(math.expm1(1.0 / scale / dims[k + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[k + 1], dims[k]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[k + 1], 1) - 0.5))
            if k < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[k + 1], 1)))
        self.medians = nn.Parameter(torch.zeros(channels))

    def logits_cdf(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        """x: [C, 1, n] -> f(x) [C, 1, n] (the cdf is sigmoid of this)."""
        for k in range(len(self.matrices)):
            m, b = self.matrices[k], self.biases[k]
            if detach:
                m, b = m.detach(), b.detach()
            x = torch.matmul(F.softplus(m), x) + b
            if k < len(self.factors):
                a = self.factors[k].detach() if detach else self.factors[k]
                x = x + torch.tanh(a) * torch.tanh(x)
        return x

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """y: [B, C, H, W] (noisy or rounded) -> p(y) per element, same shape, float32."""
        b, c, h, w = y.shape
        v = y.float().permute(1, 0, 2, 3).reshape(c, 1, -1)
        lo = self.logits_cdf(v - 0.5)
        hi = self.logits_cdf(v + 0.5)
        sign = -torch.sign(lo + hi).detach()          # evaluate in the tail where sigmoid is accurate
        p = torch.abs(torch.sigmoid(sign * hi) - torch.sigmoid(sign * lo))
        p = p.clamp_min(1e-9)
        return p.reshape(c, b, h, w).permute(1, 0, 2, 3)

    def aux_loss(self) -> torch.Tensor:
        """|f_c(m_c)| summed: moves the medians only (density parameters detached)."""
        return self.logits_cdf(self.medians.view(-1, 1, 1), detach=True).abs().sum()

    def noisy(self, y: torch.Tensor) -> torch.Tensor:
        return y + torch.empty_like(y).uniform_(-0.5, 0.5)

    def rounded_ste(self, y: torch.Tensor, lo=None, hi=None) -> torch.Tensor:
        """round(y - m) + m with a straight-through gradient (the values the tail receives at
        inference); lo/hi: optional per-channel symbol bounds [C] (clamped like the encoder)."""
        m = self.medians.detach().view(1, -1, 1, 1)
        s = torch.floor(y - m + 0.5)
        if lo is not None:
            s = torch.maximum(torch.minimum(s, hi.view(1, -1, 1, 1)), lo.view(1, -1, 1, 1))
        return y + (s + m - y).detach()

    @torch.no_grad()
    def cdf_numpy(self, x: np.ndarray) -> np.ndarray:
        """x: [C, n] float64 -> cdf [C, n] (float64 maths on a float64 copy of the model)."""
        m = [F.softplus(p.detach().cpu().double()) for p in self.matrices]
        bs = [p.detach().cpu().double() for p in self.biases]
        fs = [torch.tanh(p.detach().cpu().double()) for p in self.factors]
        v = torch.from_numpy(np.asarray(x, np.float64)).reshape(self.channels, 1, -1)
        for k in range(len(m)):
            v = torch.matmul(m[k], v) + bs[k]
            if k < len(fs):
                v = v + fs[k] * torch.tanh(v)
        return torch.sigmoid(v).reshape(self.channels, -1).numpy()


def _quantile(eb: EntropyBottleneck, q: float, lo: float = -1e4, hi: float = 1e4, iters: int = 80) -> np.ndarray:
    """Per channel x with cdf(x) = q, by bisection in float64 (the cdf is monotone)."""
    a = np.full(eb.channels, lo)
    b = np.full(eb.channels, hi)
    for _ in range(iters):
        mid = 0.5 * (a + b)
        below = eb.cdf_numpy(mid[:, None])[:, 0] < q
        a = np.where(below, mid, a)
        b = np.where(below, b, mid)
    return 0.5 * (a + b)


def quantize_freqs(pmf: np.ndarray, total: int = TOTAL) -> np.ndarray:
    """Probabilities (sum 1) -> integer frequencies, each >= 1, summing to exactly `total`.
    Deterministic: round(p * total) clamped to >= 1, then the difference is taken from (or given
    to) the largest frequencies one unit at a time, lowest index first among equals."""
    f = np.maximum(1, np.floor(pmf * total + 0.5)).astype(np.int64)
    diff = int(f.sum()) - total
    while diff != 0:
        order = np.lexsort((np.arange(len(f)), -f))      # largest first, then lowest index
        if diff > 0:
            for i in order:
                if diff == 0:
                    break
                if f[i] > 1:
                    f[i] -= 1
                    diff -= 1
        else:
            for i in order:
                if diff == 0:
                    break
                f[i] += 1
                diff += 1
    assert f.sum() == total and f.min() >= 1
    return f


@torch.no_grad()
def build_tables(eb: EntropyBottleneck) -> Dict:
    """The integer tables (see the module doc): offsets = medians by bisection (float32), the
    symbol range covering all but TAIL_MASS on each side (at most MAX_SYMBOLS), and per channel
    the cumulative frequencies cdf[0..n] (cdf[0] = 0, cdf[n] = 65536). The end symbols take the
    mass beyond them (the encoder clamps to the range)."""
    med = _quantile(eb, 0.5).astype(np.float32)
    qlo = _quantile(eb, TAIL_MASS)
    qhi = _quantile(eb, 1.0 - TAIL_MASS)
    channels = []
    for c in range(eb.channels):
        lo = int(math.floor(qlo[c] - float(med[c])))
        hi = int(math.ceil(qhi[c] - float(med[c])))
        lo, hi = min(lo, 0), max(hi, 0)
        if hi - lo + 1 > MAX_SYMBOLS:
            extra = hi - lo + 1 - MAX_SYMBOLS
            cut_lo = extra // 2
            lo, hi = lo + cut_lo, hi - (extra - cut_lo)
        s = np.arange(lo, hi + 1, dtype=np.float64)
        x = float(med[c]) + s
        edges = np.concatenate([x - 0.5, [x[-1] + 0.5]])
        full = np.zeros((eb.channels, edges.size))
        full[:, :] = edges[None, :]
        cd = eb.cdf_numpy(full)[c]
        cd[0], cd[-1] = 0.0, 1.0                      # the end symbols take the tails
        pmf = np.maximum(np.diff(cd), 0.0)
        pmf = pmf / pmf.sum()
        freq = quantize_freqs(pmf)
        cdf = np.concatenate([[0], np.cumsum(freq)]).astype(np.int64)
        channels.append({"offset": float(med[c]), "min_symbol": lo, "cdf": [int(v) for v in cdf]})
    return {"format": TABLE_FORMAT, "version": TABLE_VERSION, "precision": PRECISION,
            "channels": channels}


def tables_json(tables: Dict) -> str:
    """Canonical text of the tables file (entropy.json): the SHA-256 of these bytes is the table id."""
    return json.dumps(tables, separators=(",", ":")) + "\n"


def table_id(text: str) -> int:
    """First 4 bytes of the SHA-256 of the tables file, as a little-endian u32 (in every frame)."""
    return int.from_bytes(hashlib.sha256(text.encode("ascii")).digest()[:4], "little")


# --------------------------------------------------------------------------- symbols

def symbols_of(y: np.ndarray, tables: Dict) -> np.ndarray:
    """y: float32 [1, C, ...] (the head output) -> int symbols, same shape:
    s = clamp(floor((y - m_c) + 0.5), lo_c, hi_c), every operation in float32."""
    y = np.asarray(y, np.float32)
    c = y.shape[1]
    out = np.empty(y.shape, np.int64)
    for k, ch in enumerate(tables["channels"][:c]):
        v = np.floor((y[:, k] - np.float32(ch["offset"])) + np.float32(0.5)).astype(np.int64)
        lo = ch["min_symbol"]
        hi = lo + len(ch["cdf"]) - 2
        out[:, k] = np.clip(v, lo, hi)
    return out


def dequantize(s: np.ndarray, tables: Dict) -> np.ndarray:
    """Symbols -> y' = float32(s) + m_c (float32)."""
    out = np.empty(s.shape, np.float32)
    for k, ch in enumerate(tables["channels"][:s.shape[1]]):
        out[:, k] = s[:, k].astype(np.float32) + np.float32(ch["offset"])
    return out


def ideal_bits(s: np.ndarray, tables: Dict) -> float:
    """sum -log2(freq/65536) over the symbols of one frame (what rANS achieves to within ~4 bytes)."""
    bits = 0.0
    for k, ch in enumerate(tables["channels"][:s.shape[1]]):
        cdf = np.asarray(ch["cdf"], np.int64)
        idx = s[:, k].reshape(-1) - ch["min_symbol"]
        f = cdf[idx + 1] - cdf[idx]
        bits += float(np.sum(PRECISION - np.log2(f)))
    return bits


# --------------------------------------------------------------------------- rANS (reference)

def rans_encode(s: np.ndarray, tables: Dict) -> bytes:
    """Symbols of one frame [1, C, ...] in C order -> the rANS payload (feature-frame-v4.md section 5).
    Elements are coded last to first so that the decoder reads them first to last; the state is
    flushed as a little-endian u32 at the front."""
    c = s.shape[1]
    inner = int(np.prod(s.shape[2:])) if s.ndim > 2 else 1
    flat = s.reshape(-1)
    chans = tables["channels"]
    cdfs = [ch["cdf"] for ch in chans]
    los = [ch["min_symbol"] for ch in chans]
    x = RANS_L
    out = bytearray()                          # emitted bytes, reversed at the end
    for i in range(flat.size - 1, -1, -1):
        k = (i // inner) % c
        j = int(flat[i]) - los[k]
        cdf = cdfs[k]
        start, freq = cdf[j], cdf[j + 1] - cdf[j]
        x_max = ((RANS_L >> PRECISION) << 8) * freq
        while x >= x_max:
            out.append(x & 0xFF)
            x >>= 8
        x = ((x // freq) << PRECISION) + (x % freq) + start
    out.reverse()
    return x.to_bytes(4, "little") + bytes(out)


def rans_decode(payload: bytes, shape: Sequence[int], tables: Dict) -> np.ndarray:
    """The inverse of rans_encode, strict: the final state must be L and every byte used."""
    c = shape[1]
    n = int(np.prod(shape))
    inner = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    if len(payload) < 4:
        raise ValueError("rANS payload shorter than its 4-byte state")
    x = int.from_bytes(payload[:4], "little")
    if not RANS_L <= x < (RANS_L << 8):
        raise ValueError("rANS initial state out of range")
    pos = 4
    out = np.empty(n, np.int64)
    chans = tables["channels"]
    for i in range(n):
        k = (i // inner) % c
        cdf = chans[k]["cdf"]
        slot = x & (TOTAL - 1)
        j = bisect.bisect_right(cdf, slot) - 1
        start, freq = cdf[j], cdf[j + 1] - cdf[j]
        x = freq * (x >> PRECISION) + slot - start
        while x < RANS_L:
            if pos >= len(payload):
                raise ValueError("rANS payload ends early")
            x = (x << 8) | payload[pos]
            pos += 1
        out[i] = j + chans[k]["min_symbol"]
    if x != RANS_L or pos != len(payload):
        raise ValueError("rANS payload does not end in the initial state")
    return out.reshape(shape)


def self_test(seed: int = 0) -> None:
    """Round trip on random tables and symbols (run by the recipe's smoke pass)."""
    rng = np.random.default_rng(seed)
    chans = []
    for _ in range(3):
        n = int(rng.integers(1, 40))
        pmf = rng.random(n) ** 4 + 1e-12
        freq = quantize_freqs(pmf / pmf.sum())
        chans.append({"offset": float(np.float32(rng.normal())), "min_symbol": int(rng.integers(-20, 1)),
                      "cdf": [0] + [int(v) for v in np.cumsum(freq)]})
    tables = {"format": TABLE_FORMAT, "version": TABLE_VERSION, "precision": PRECISION, "channels": chans}
    y = rng.normal(scale=8, size=(1, 3, 5, 7)).astype(np.float32)
    s = symbols_of(y, tables)
    enc = rans_encode(s, tables)
    back = rans_decode(enc, s.shape, tables)
    assert np.array_equal(back, s), "rANS round trip failed"
    assert abs(len(enc) * 8 - ideal_bits(s, tables)) < 64, (len(enc), ideal_bits(s, tables))
