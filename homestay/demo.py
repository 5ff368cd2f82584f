"""The demo data set: accounts, about 200 homestays across Deqing, inspections and certificates
in every grade and status. Everything goes through the same services as real use, never
straight into the collections, so the demo shows what the code really does.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from geopy.distance import geodesic
from geopy.point import Point
from PIL import Image, ImageDraw

from homestay import images
from homestay.auth import Caller, Role
from homestay.clock import china_date, shifted, utcnow
from homestay.domain.appeals import AppealDecision
from homestay.domain.assignments import AssignmentSource
from homestay.domain.certificates import Certificate, CertificateAction, CertificateStatus
from homestay.domain.concerns import ConcernCategory, ConcernStatus
from homestay.domain.gazetteer import gazetteer
from homestay.domain.grades import Grade
from homestay.domain.grading import ItemKind, Standard
from homestay.domain.inspections import Inspection
from homestay.domain.listings import Homestay
from homestay.services import photos
from homestay.services.accounts import create_account
from homestay.services.homestays import HomestayInput, ListingInput
from homestay.services.inspections import ResultInput, SubmissionInput
from homestay.services.registry import Services

DEQING = "330521"
ANJI = "330523"
HOMESTAYS = 200

_PREFIXES = [
    "山",
    "竹",
    "云",
    "溪",
    "茶",
    "松",
    "雾",
    "枫",
    "石",
    "林",
    "花",
    "月",
    "风",
    "泉",
    "桃",
]
_MIDDLES = ["居", "舍", "野", "隐", "庐", "院", "谷", "坞", "宿", "间", "里", "语", "境"]
_SUFFIXES = ["民宿", "山居", "小院", "别院", "客栈", "农家", "酒店"]
_EN = {
    "山": "Mountain",
    "竹": "Bamboo",
    "云": "Cloud",
    "溪": "Brook",
    "茶": "Tea",
    "松": "Pine",
    "雾": "Mist",
    "枫": "Maple",
    "石": "Stone",
    "林": "Woods",
    "花": "Blossom",
    "月": "Moon",
    "风": "Breeze",
    "泉": "Spring",
    "桃": "Peach",
}
_FACILITIES = [
    "PARKING",
    "WIFI",
    "BREAKFAST",
    "POOL",
    "TEA_ROOM",
    "BARBECUE",
    "FAMILY_FRIENDLY",
    "TERRACE",
    "CAFE",
    "PET_FRIENDLY",
    "MEETING_ROOM",
    "EV_CHARGING",
    "GARDEN",
    "PRIVATE_BATHROOM",
    "AIR_CONDITIONING",
]


@dataclass(frozen=True)
class DemoAccount:
    role: str
    county: str
    name: str
    token: str
    caller: Caller


async def _account(services: Services, role: Role, county: str, name: str) -> DemoAccount:
    new = await create_account(services.db, role=role.value, name=name, counties=[county])
    return DemoAccount(role.value, county, name, new.token, new.account.caller())


def _answers(standard: Standard, quality: float, rng: random.Random) -> list[ResultInput]:
    """A checklist for a homestay of the given quality (0..1)."""
    strictness = {Grade.STANDARD: 0.01, Grade.PREMIUM: 0.25, Grade.BOUTIQUE: 0.5}
    results = []
    for item in standard.items:
        if item.kind is ItemKind.MANDATORY:
            assert item.required_for is not None  # every mandatory item names its grade
            passed = rng.random() > strictness[item.required_for] * (1.1 - quality)
            results.append(ResultInput(item.code, passed=passed))
        else:
            most = item.max_points or 0
            points = round(min(most, max(0, rng.gauss(quality * most, most / 8))))
            results.append(ResultInput(item.code, points=points))
    return results


def _place(rng: random.Random) -> tuple[str, float, float]:
    """A town or village of Deqing, most often in the Moganshan hills, and a point near it."""
    deqing = gazetteer().county(DEQING)
    assert deqing is not None  # seed/gazetteer.json
    places = deqing.places
    hills = [p for p in places if p.town in ("莫干山镇", "阜溪街道")]
    place = rng.choice(hills if rng.random() < 0.7 else places)
    spread = 900 if place.kind == "village" else 2500
    point = geodesic(meters=abs(rng.gauss(0, spread))).destination(
        Point(place.lat, place.lng), bearing=rng.uniform(0, 360)
    )
    return place.name_zh, point.latitude, point.longitude


_CONCERNS = [  # (category, what a guest wrote, what the bureau did: None while open)
    (ConcernCategory.SAFETY, "二楼安全出口被杂物堵住 / the first-floor fire exit is blocked", None),
    (
        ConcernCategory.HYGIENE,
        "床单有污渍，浴室有霉斑 / stained sheets, mould in the bathroom",
        (ConcernStatus.SUBSTANTIATED, "现场核实属实，列入复查 / found so on site: to re-inspect"),
    ),
    (ConcernCategory.PRICE, "入住时临时加价 100 元 / 100 yuan added at check-in", None),
    (
        ConcernCategory.MISREPRESENTATION,
        "照片中的泳池不存在 / the pool in the photos is not there",
        (ConcernStatus.RESOLVED, "已责令更正宣传照片 / listing photos corrected"),
    ),
    (
        ConcernCategory.SERVICE,
        "前台无人 / nobody at the desk",
        (ConcernStatus.DISMISSED, "核实为入住高峰短暂离岗 / a short absence at a busy hour"),
    ),
]


async def _concerns(services: Services, bureau: Caller, numbers: list[str]) -> int:
    """Guests' concerns in every state, so that the plan shows what guests said."""
    for i, ((category, text, outcome), number) in enumerate(zip(_CONCERNS, numbers, strict=False)):
        concern, _ = await services.concerns.report(
            number, category, text, None, reporter=f"demo-guest-{i}"
        )
        if outcome is not None:
            await services.concerns.resolve(bureau, concern.id, *outcome)
    # the first stay hears twice: its SAFETY concern and a hygiene one from another guest
    if numbers:
        await services.concerns.report(
            numbers[0],
            ConcernCategory.HYGIENE,
            "毛巾未更换 / towels not changed",
            None,
            reporter="demo-guest-9",
        )
    return min(len(numbers), len(_CONCERNS)) + (1 if numbers else 0)


_VIEWS = [
    ("推窗见竹海", "bamboo seas from the window"),
    ("溪水绕院", "a brook round the yard"),
    ("坐看云起", "clouds rising over the hills"),
    ("茶园环抱", "tea gardens all around"),
]


def _listing(homestay: Homestay, rng: random.Random) -> ListingInput:
    """What an operator writes: a line about the place, a phone, a night's price."""
    zh, en = rng.choice(_VIEWS)
    low = rng.choice([280, 380, 480, 680, 880])
    return ListingInput(
        description=f"{homestay.listing.name}位于{homestay.listing.town or '德清'}，{zh}，"
        f"共 {homestay.listing.rooms} 间客房。",
        description_en=f"{homestay.listing.name_en or homestay.listing.name}: {en}, "
        f"{homestay.listing.rooms} rooms.",
        phone=f"0572-{rng.randint(8000000, 8999999)}",
        price_min=low,
        price_max=low + rng.choice([200, 400, 800]),
    )


PHOTO_EVERY = 10  # one certified stay in ten gets photos: the demo still starts in seconds


def _scene(rng: random.Random, width: int = 960, height: int = 640) -> bytes:
    """A picture of a homestay, drawn here (no downloads): sky, hills, a house, its lit
    windows; a different one for every draw of `rng`."""
    image = Image.new("RGB", (width, height))
    pen = ImageDraw.Draw(image)
    sky = (rng.randint(90, 140), rng.randint(150, 200), rng.randint(210, 250))
    for y in range(height // 2):
        t = y / (height / 2)
        pen.line([(0, y), (width, y)], fill=tuple(int(c * (1 - t) + 235 * t) for c in sky))
    for layer in range(3):
        crest = height // 2 + layer * 45 - 30
        ridge = [
            (0, height),
            *[(x, crest - rng.randint(0, 100 - layer * 20)) for x in range(0, width + 60, 60)],
            (width, height),
        ]
        pen.polygon(ridge, fill=(40 + layer * 20, 90 + layer * 30, 60 + layer * 10))
    ground = int(height * 0.78)
    pen.rectangle([0, ground, width, height], fill=(70, 130, 60))
    left, wide, tall = (
        rng.randint(width // 6, width // 2),
        rng.randint(200, 290),
        rng.randint(110, 160),
    )
    pen.rectangle([left, ground - tall, left + wide, ground], fill=(235, 230, 220))
    eaves, peak = ground - tall, ground - tall - rng.randint(70, 110)
    pen.polygon(
        [(left - 25, eaves), (left + wide // 2, peak), (left + wide + 25, eaves)],
        fill=rng.choice([(60, 60, 70), (90, 50, 40)]),
    )
    for i in range(3):
        x = left + 20 + i * (wide - 40) // 3
        pen.rectangle([x, ground - tall + 25, x + 38, ground - tall + 65], fill=(250, 210, 120))
    pen.rectangle(
        [left + wide // 2 - 22, ground - 60, left + wide // 2 + 22, ground], fill=(120, 80, 50)
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


async def _photos(
    services: Services, caller: Caller, homestay: Homestay, rng: random.Random
) -> list[str]:
    """Listing photos of the stay (one, some stays two), stored as an upload stores them."""
    ids = []
    for _ in range(1 + (rng.random() < 0.3)):
        scene = images.prepare(_scene(rng))
        drawn = await asyncio.to_thread(photos.draw, scene)
        ids.append(
            str((await services.photos.store(drawn, homestay, caller.account_id, None))["_id"])
        )
    return ids


async def _photograph(
    services: Services, caller: Caller, stays: list[tuple[Homestay, random.Random]]
) -> int:
    """The stays' listing photos, drawn and stored a few at once (drawing is CPU, storing is
    the database's time); each stay's photos from its own dice, so the demo is the same
    every time."""
    gate = asyncio.Semaphore(4)

    async def one(homestay: Homestay, dice: random.Random) -> int:
        async with gate:
            ids = await _photos(services, caller, homestay, dice)
            await services.homestays.update_listing(
                caller, homestay.id, ListingInput(photo_ids=ids)
            )
            return len(ids)

    return sum(await asyncio.gather(*(one(h, d) for h, d in stays)))


async def _appeals(
    services: Services,
    decider: Caller,
    suspended: list[str],
    revoked: list[str],
    rejected: list[Inspection],
) -> tuple[DemoAccount | None, int]:
    """An operator who appealed a decision of each kind, and the appeals in each state: a
    suspension OPEN, another OVERTURNED (reinstated), a revocation UPHELD, a rejection
    OVERTURNED (back in the review queue)."""
    if len(suspended) < 2 or not revoked or not rejected:
        return None, 0
    runs = [*suspended[:2], revoked[0], rejected[0].homestay_id]
    name = "孙老板 Sun (operator)"
    new = await create_account(services.db, role=Role.OPERATOR.value, name=name, homestay_ids=runs)
    operator = new.account.caller()
    appeals = services.appeals
    numbers = {
        c.homestay_id: c.number
        for c in await services.certificates.current_for(runs)
        if c is not None
    }
    await appeals.appeal(
        operator,
        None,
        numbers[suspended[0]],
        "通道当天已清理，附照片 / the exit was cleared that day, photos attached",
    )
    reinstated = await appeals.appeal(
        operator, None, numbers[suspended[1]], "抽查当日正在施工 / building work on the day"
    )
    await appeals.decide(
        decider,
        reinstated.id,
        AppealDecision.OVERTURN,
        "施工许可属实 / the works permit checks out",
    )
    upheld = await appeals.appeal(
        operator, None, numbers[revoked[0]], "已申请餐饮许可 / a food permit has been applied for"
    )
    await appeals.decide(
        decider, upheld.id, AppealDecision.UPHOLD, "申请不等于许可 / applying is not a permit"
    )
    again = await appeals.appeal(
        operator, rejected[0].id, None, "照片为当日所摄 / the photos were taken that day"
    )
    await appeals.decide(
        decider,
        again.id,
        AppealDecision.OVERTURN,
        "由另一位审核员复审 / to be reviewed by someone else",
    )
    return DemoAccount(Role.OPERATOR.value, DEQING, name, new.token, operator), 4


async def _operators(
    services: Services, certified: list[str], uninspected: list[str]
) -> list[DemoAccount]:
    """Two operators: one runs a certified stay and a new one it asks to have inspected; the
    other a certified stay alone."""
    made = []
    for name, runs in (
        ("张老板 Zhang (operator)", certified[:1] + uninspected[:1]),
        ("钱老板 Qian (operator)", certified[1:2]),
    ):
        if not runs:
            continue
        new = await create_account(
            services.db, role=Role.OPERATOR.value, name=name, homestay_ids=runs
        )
        made.append(DemoAccount(Role.OPERATOR.value, DEQING, name, new.token, new.account.caller()))
    if made and uninspected:
        await services.requests.request(
            made[0].caller,
            uninspected[0],
            Grade.PREMIUM,
            "新装修完成，申请评定 / renovated, asking to be graded",
        )
    return made


@dataclass
class _Demo:
    """The demo's world as it grows: who acts, and the stays that later steps need. The dice
    are thrown in the same order every time, so every load is the same demo."""

    services: Services
    rng: random.Random
    standard: Standard
    inspector: Caller
    bureau: Caller
    stats: dict[str, Any] = field(
        default_factory=lambda: {"homestays": 0, "inspections": 0, "certificates": 0, "concerns": 0}
    )
    valid_numbers: list[str] = field(default_factory=list)  # guests will write about these
    certified: list[str] = field(default_factory=list)  # homestay ids, for the operators
    uninspected: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)  # homestay ids, for the appeals
    revoked: list[str] = field(default_factory=list)
    rejected: list[Inspection] = field(default_factory=list)
    pictured: list[tuple[Homestay, random.Random]] = field(default_factory=list)  # own dice each

    async def stay(self, n: int) -> None:
        """One homestay's story: registered; perhaps inspected, reviewed, certified, listed,
        then suspended, revoked, talked about by guests or regraded."""
        homestay, point = await self._register(n)
        fate = self.rng.random()
        if fate < 0.06:
            self.uninspected.append(homestay.id)
            return  # registered, not yet inspected
        cert, quality = await self._first_inspection(homestay, point, fate)
        if cert is None or cert.stored_status is not CertificateStatus.VALID:
            return
        await self._list(homestay, fate)
        await self._afterwards(homestay, cert.number, fate, quality)

    async def _register(self, n: int) -> tuple[Homestay, tuple[float, float] | None]:
        rng = self.rng
        town, lat, lng = _place(rng)
        name = rng.choice(_PREFIXES) + rng.choice(_MIDDLES) + rng.choice(_SUFFIXES)
        name = f"{name}·{n + 1:03d}"
        # a few homestays are registered by address alone and geocoded from the gazetteer
        point = None if n % 10 == 0 else (lat, lng)
        homestay = await self.services.homestays.register(
            self.inspector,
            HomestayInput(
                name=name,
                name_en=f"{_EN[name[0]]} Homestay {n + 1:03d}",
                address=f"浙江省湖州市德清县{town}{rng.randint(1, 199)}号",
                county=DEQING,
                location=point,
                rooms=rng.randint(3, 16),
                facilities=rng.sample(_FACILITIES, rng.randint(2, 6)),
            ),
        )
        self.stats["homestays"] += 1
        return homestay, point

    async def _first_inspection(
        self, homestay: Homestay, point: tuple[float, float] | None, fate: float
    ) -> tuple[Certificate | None, float]:
        """Inspected, then left for review, rejected or approved: the certificate, if any,
        and how good the stay is."""
        rng, services = self.rng, self.services
        # some certificates are old: issued more than three years ago, now EXPIRED
        age = timedelta(days=-rng.randint(1100, 1300)) if fate > 0.95 else timedelta(0)
        with shifted(age):
            quality = rng.betavariate(4, 2)
            inspection = await services.inspections.submit(
                self.inspector,
                SubmissionInput(
                    client_submission_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    homestay_id=homestay.id,
                    results=_answers(self.standard, quality, rng),
                    inspector_location=(
                        point[0] + rng.gauss(0, 0.001),
                        point[1] + rng.gauss(0, 0.001),
                    )
                    if point
                    else None,
                ),
            )
            self.stats["inspections"] += 1
            if 0.06 <= fate < 0.12:
                return None, quality  # awaiting review
            if 0.12 <= fate < 0.15:
                done, _ = await services.certificates.review(
                    self.bureau,
                    inspection.id,
                    "REJECT",
                    "照片与现场不符，请复查 / photos do not match the site",
                )
                self.rejected.append(done)
                return None, quality
            _, cert = await services.certificates.review(
                self.bureau, inspection.id, "APPROVE", "符合要求 / meets the standard"
            )
        return cert, quality

    async def _list(self, homestay: Homestay, fate: float) -> None:
        """What its operator writes for tourists; one stay in PHOTO_EVERY is photographed."""
        self.stats["certificates"] += 1
        await self.services.homestays.update_listing(
            self.inspector, homestay.id, _listing(homestay, self.rng)
        )
        if self.stats["certificates"] % PHOTO_EVERY == 1:
            self.pictured.append((homestay, random.Random(self.rng.getrandbits(32))))
        if fate >= 0.36:
            self.certified.append(homestay.id)

    async def _afterwards(
        self, homestay: Homestay, number: str, fate: float, quality: float
    ) -> None:
        certificates = self.services.certificates
        if 0.15 <= fate < 0.20:
            await certificates.change(
                self.bureau,
                number,
                CertificateAction.SUSPEND,
                "抽查发现消防通道堵塞 / blocked fire exit at a spot check",
            )
            self.suspended.append(homestay.id)
        elif 0.20 <= fate < 0.23:
            await certificates.change(
                self.bureau,
                number,
                CertificateAction.REVOKE,
                "无证经营餐饮 / food served without a permit",
            )
            self.revoked.append(homestay.id)
        elif 0.28 <= fate < 0.36:
            self.valid_numbers.append(number)
        elif 0.23 <= fate < 0.28:
            # re-inspected and regraded: the first certificate becomes SUPERSEDED
            again = await self.services.inspections.submit(
                self.inspector,
                SubmissionInput(
                    client_submission_id=str(uuid.UUID(int=self.rng.getrandbits(128))),
                    homestay_id=homestay.id,
                    results=_answers(self.standard, min(1.0, quality + 0.15), self.rng),
                ),
            )
            self.stats["inspections"] += 1
            await certificates.review(self.bureau, again.id, "APPROVE", "复评 / regraded")
            self.stats["certificates"] += 1


async def _staff(services: Services) -> list[DemoAccount]:
    return [
        await _account(services, Role.INSPECTOR, DEQING, "王检查员 Wang (Deqing inspector)"),
        await _account(services, Role.BUREAU, DEQING, "李审核 Li (Deqing bureau)"),
        await _account(services, Role.INSPECTOR, ANJI, "陈检查员 Chen (Anji inspector)"),
        await _account(services, Role.BUREAU, ANJI, "赵审核 Zhao (Anji bureau)"),
        # decides appeals of 李审核's decisions, which 李审核 may not
        await _account(services, Role.BUREAU, DEQING, "周主任 Zhou (Deqing bureau)"),
        # goes where 王 may not: the spot checks of stays 王 inspected last
        await _account(services, Role.INSPECTOR, DEQING, "孙检查员 Sun (Deqing inspector)"),
    ]


DEMO_DRAW_SEED = "德清县2026年第四季度抽查 / Deqing spot checks, 2026 Q4"


async def _working_day(demo: _Demo, sun: Caller) -> int:
    """The county's working day: a spot-check draw (two of its stays sent to 孙, as 王
    inspected them last; two not yet sent), 王's round of five stays tomorrow, one assignment
    done, one cancelled, one overdue. The number of assignments made."""
    work = demo.services.assignments
    today = china_date(utcnow())
    draw = await work.draw(demo.bureau, DEQING, 4, DEMO_DRAW_SEED, today + timedelta(days=14))
    drawn = await work.by_ids(list(draw.drawn))
    for taken in drawn[:2]:
        assert taken is not None
        await work.assign(
            demo.bureau,
            taken.homestay_id,
            sun.account_id or "",
            today + timedelta(days=3),
            AssignmentSource.SPOT_CHECK,
            None,
        )
    sent = {a.homestay_id for a in drawn if a is not None}
    free = [h for h in demo.certified if h not in sent]
    for homestay_id in free[:5]:  # 王's day tomorrow: a route
        await work.assign(
            demo.bureau,
            homestay_id,
            demo.inspector.account_id or "",
            today + timedelta(days=1),
            AssignmentSource.MANUAL,
            "年度复查 / yearly visit",
        )
    done, cancelled, late = free[5:8]
    await work.assign(
        demo.bureau,
        done,
        demo.inspector.account_id or "",
        today + timedelta(days=2),
        AssignmentSource.REQUEST,
        None,
    )
    await demo.services.inspections.submit(
        demo.inspector,
        SubmissionInput(
            client_submission_id=str(uuid.UUID(int=demo.rng.getrandbits(128))),
            homestay_id=done,
            results=_answers(demo.standard, 0.9, demo.rng),
        ),
    )
    made, _ = await work.assign(
        demo.bureau,
        cancelled,
        sun.account_id or "",
        today + timedelta(days=5),
        AssignmentSource.CONCERN,
        "客人反映卫生问题 / a guest's hygiene concern",
    )
    await work.cancel(demo.bureau, made.id, "经营者已停业整顿 / closed for renovation")
    with shifted(timedelta(days=-10)):  # given ten days ago, due a week ago: overdue
        await work.assign(
            demo.bureau,
            late,
            sun.account_id or "",
            china_date(utcnow()) + timedelta(days=3),
            AssignmentSource.MANUAL,
            None,
        )
    return await demo.services.db.assignments.count_documents({})


def _write_accounts(accounts_file: Path, accounts: list[DemoAccount]) -> None:
    accounts_file.parent.mkdir(parents=True, exist_ok=True)
    # bureau tokens: readable by this user only, from the first byte written
    accounts_file.unlink(missing_ok=True)
    descriptor = os.open(accounts_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(
            json.dumps(
                [
                    {"role": a.role, "county": a.county, "name": a.name, "token": a.token}
                    for a in accounts
                ],
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )


async def load_demo(services: Services, accounts_file: Path, count: int = HOMESTAYS) -> dict:
    """Load the demo into an empty database; write the demo tokens to accounts_file."""
    accounts = await _staff(services)
    standard = await services.standards.find()
    assert standard is not None, "publish the seed standard first"
    demo = _Demo(
        services, random.Random(20261124), standard, accounts[0].caller, accounts[1].caller
    )
    for n in range(count):
        await demo.stay(n)
    stats = demo.stats
    stats["concerns"] = await _concerns(services, demo.bureau, demo.valid_numbers)
    stats["photos"] = await _photograph(services, demo.inspector, demo.pictured)
    operators = await _operators(services, demo.certified, demo.uninspected)
    appellant, stats["appeals"] = await _appeals(
        services, accounts[4].caller, demo.suspended, demo.revoked, demo.rejected
    )
    if appellant is not None:
        operators.append(appellant)
    stats["operators"] = len(operators)
    stats["assignments"] = await _working_day(demo, accounts[5].caller)
    # what is stored, counted there (superseded certificates too)
    stats["certificates"] = await services.db.certificates.count_documents({})
    stats["inspections"] = await services.db.inspections.count_documents({})
    _write_accounts(accounts_file, accounts + operators)
    stats["loadedAt"] = utcnow().isoformat()
    return stats
