"""Memory for photos is bounded whatever arrives: a crowd of the largest photos the budget
admits, sent at once to a served process, measured in its /proc."""

from __future__ import annotations

import io
import threading
import uuid
from pathlib import Path

import httpx
from PIL import Image

from tests.served import account, serving

MIB = 1024 * 1024


def _memory(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the most it was), in bytes."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}


def worst_photo() -> bytes:
    """The largest picture the default budget (128 MB decoded) admits: 5,700 x 5,700 RGBA,
    127 KB on the wire."""
    out = io.BytesIO()
    Image.new("RGBA", (5700, 5700)).save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_sixteen_worst_case_uploads_at_once_stay_under_a_gigabyte(mongodb_uri, tmp_path):
    data = worst_photo()
    database = f"photos_{uuid.uuid4().hex[:8]}"
    with serving(mongodb_uri, tmp_path, database, HOMESTAY_PHOTO_WAIT_S="120") as (url, process):
        token = account(mongodb_uri, database, "inspector")  # 16 at once: an account may
        before = _memory(process.pid)["VmRSS"]
        codes: list[int] = []

        def send() -> None:
            sent = httpx.post(
                f"{url}/uploads",
                content=data,
                headers={"Authorization": f"Bearer {token}"},
                timeout=180,
            )
            codes.append(sent.status_code)

        crowd = [threading.Thread(target=send) for _ in range(16)]
        for thread in crowd:
            thread.start()
        for thread in crowd:
            thread.join()
        after = _memory(process.pid)
    assert codes == [201] * 16, codes
    assert after["VmHWM"] < 1024 * MIB, f"peak {after['VmHWM'] / MIB:.0f} MB"
    assert after["VmRSS"] - before < 300 * MIB, (
        f"{before / MIB:.0f} MB before, {after['VmRSS'] / MIB:.0f} MB after"
    )
