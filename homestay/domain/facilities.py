"""The facilities a listing may name: a fixed vocabulary, so that every app shows them in the
reader's language and a filter can rely on them. Stored and sent as codes; the apps' earlier
free words (a Chinese or English label) are read as the code they name."""

from __future__ import annotations

import unicodedata

# code: (Chinese, English), in the order a picker shows them
FACILITIES: dict[str, tuple[str, str]] = {
    "WIFI": ("无线网络", "Wi-Fi"),
    "PARKING": ("停车场", "Parking"),
    "BREAKFAST": ("早餐", "Breakfast"),
    "RESTAURANT": ("餐厅", "Restaurant"),
    "CAFE": ("咖啡", "Café"),
    "TEA_ROOM": ("茶室", "Tea room"),
    "PRIVATE_BATHROOM": ("独立卫浴", "Private bathroom"),
    "HOT_WATER": ("24小时热水", "24-hour hot water"),
    "AIR_CONDITIONING": ("空调", "Air conditioning"),
    "HEATING": ("供暖", "Heating"),
    "SHARED_KITCHEN": ("公共厨房", "Shared kitchen"),
    "LAUNDRY": ("洗衣", "Laundry"),
    "GARDEN": ("庭院", "Garden"),
    "TERRACE": ("观景露台", "Terrace"),
    "POOL": ("泳池", "Swimming pool"),
    "BARBECUE": ("烧烤", "Barbecue"),
    "CARD_ROOM": ("棋牌室", "Card room"),
    "MEETING_ROOM": ("会议室", "Meeting room"),
    "FAMILY_FRIENDLY": ("亲子", "Family-friendly"),
    "PET_FRIENDLY": ("宠物友好", "Pets allowed"),
    "ACCESSIBLE": ("无障碍设施", "Step-free access"),
    "EV_CHARGING": ("充电桩", "EV charging"),
    "BICYCLES": ("自行车租借", "Bicycle hire"),
    "LUGGAGE_STORAGE": ("行李寄存", "Luggage storage"),
    "PICK_UP": ("接送服务", "Pick-up service"),
    "FIRST_AID": ("急救箱", "First-aid kit"),
}


def _key(word: str) -> str:
    return (
        "".join(unicodedata.normalize("NFKC", word).casefold().split())
        .replace("-", "")
        .replace("_", "")
    )


# every spelling that names a code: the code itself, both labels, and common variants
_NAMES: dict[str, str] = {}
for _code, (_zh, _en) in FACILITIES.items():
    for _word in (_code, _zh, _en):
        _NAMES[_key(_word)] = _code
for _word, _code in {
    "wlan": "WIFI",
    "无线": "WIFI",
    "wifi": "WIFI",
    "停车": "PARKING",
    "亲子设施": "FAMILY_FRIENDLY",
    "露台": "TERRACE",
    "可携带宠物": "PET_FRIENDLY",
    "游泳池": "POOL",
    "cafe": "CAFE",
    "咖啡馆": "CAFE",
}.items():
    _NAMES[_key(_word)] = _code


def code_of(word: str) -> str | None:
    """The vocabulary's code that `word` names (a code, or a label in either language), or
    None when it names none."""
    return _NAMES.get(_key(word))


def label(code: str, lang: str) -> str:
    zh, en = FACILITIES[code]
    return en if lang == "en" else zh
