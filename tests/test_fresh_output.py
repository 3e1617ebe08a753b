"""Fresh outputs of 8 MiB and more (``fastrle.decode`` without ``out``,
``fastrle.mask.decode`` of a batch) come from zero pages of the platform
layer (``frle_alloc_zeroed``) and a zeroed-mode decode that writes only
foreground. Pinned here: the contents (against pycocotools), the array's
flags, strides and ownership, no leak over 200 calls, and on Linux that the
pages are 4 KiB ones of which only those holding foreground are faulted in."""
from __future__ import annotations

import gc
import os
import sys

import numpy as np
import pytest

import fastrle
import fastrle.mask as fm
from fastrle import synthetic

pm = pytest.importorskip("pycocotools.mask")

H, W, N = 1024, 1100, 12  # 13.5 MB: over the 8 MiB of a page-backed output


def _owner(a: np.ndarray) -> object:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a.base


@pytest.mark.parametrize("family", synthetic.FAMILIES)
def test_mask_decode_batch_matches_pycocotools_and_is_a_normal_array(family: str) -> None:
    rles = synthetic.family_masks(family, N, H, W, seed=7)
    ref = pm.decode(rles)
    got = fm.decode(rles)
    assert got.dtype == np.uint8 and got.shape == (H, W, N)
    assert np.array_equal(got, ref)
    assert got.flags.f_contiguous and got.flags.writeable and got.flags.aligned
    assert got.strides == (1, H, H * W)
    assert _owner(got) is not None  # the memory lives as long as the array
    # every byte is writable, background pages (never written by the decode) too
    got[:] = 1
    assert int(got.sum(dtype=np.int64)) == H * W * N
    c = fastrle.decode(rles)
    assert c.flags.c_contiguous and c.flags.writeable and c.shape == (N, H, W)
    assert np.array_equal(c, ref.transpose(2, 0, 1))


def test_array_outlives_every_other_reference() -> None:
    rles = synthetic.family_masks("stars", N, H, W, seed=3)
    ref = pm.decode(rles)
    view = fm.decode(rles)[:, :, 5]
    gc.collect()
    junk = [fm.decode(rles) for _ in range(2)]  # new outputs must not reuse view's pages
    junk[0][:] = 9
    junk[1][:] = 9
    assert np.array_equal(view, ref[:, :, 5])


def _maps_count() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_no_leak_over_200_calls() -> None:
    rles = synthetic.family_masks("blobs", N, H, W, seed=1)
    for _ in range(3):
        fm.decode(rles)
        fastrle.decode(rles)
    gc.collect()
    maps, rss = _maps_count(), _rss()
    for _ in range(100):
        fm.decode(rles)
        fastrle.decode(rles, threads=2)
    gc.collect()
    assert _maps_count() <= maps + 2  # every mapping was unmapped
    assert _rss() - rss < H * W * N  # not even one output's worth stays


def _mapping_of(addr: int) -> dict:
    """The /proc/self/smaps fields (kB) of the mapping holding addr."""
    fields: dict = {}
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                if inside:
                    break
                inside = lo <= addr < hi
                if inside:
                    fields["size_bytes"] = hi - lo
            elif inside and line.split()[-1] == "kB":
                fields[head.rstrip(":")] = int(line.split()[1])
    return fields


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.exists("/proc/self/smaps"),
                    reason="reads /proc/self/smaps")
def test_only_foreground_pages_are_faulted_in() -> None:
    """A 2 MiB page is cleared whole at its first touch (and in a VM with free
    page reporting comes back from the host): fresh outputs take 4 KiB pages,
    and a sparse batch faults in only the few pages its foreground lies in."""
    m = np.zeros((N, H, W), np.uint8)
    m[:, 500:520, 40:60] = 1  # 20 rows: 20 lines of 64 bytes per mask
    rles = fastrle.encode(m)
    nbytes = N * H * W
    for order in "CF":  # one at a time: two adjacent mappings may merge into one
        got = fastrle.decode(rles, threads=2) if order == "C" else fm.decode(rles)
        assert np.array_equal(got, m if order == "C" else m.transpose(1, 2, 0))
        smaps = _mapping_of(got.__array_interface__["data"][0])
        assert smaps["size_bytes"] >= nbytes
        assert smaps.get("AnonHugePages", 0) == 0, smaps
        # C order: 20 rows of 1100 bytes per mask; F order: 20 columns of 1024
        # bytes per mask (pages read by the comparison map the shared zero page)
        assert smaps["Rss"] * 1024 < nbytes // 8, (order, smaps)
        del got
