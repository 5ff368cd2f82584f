"""What a UserError says in Chinese, by its code.

The services word their errors in English, with the detail a developer needs (the value, the
limit). An app shows its user the message in the user's language: the Chinese one is this
catalogue's sentence for the code, naming the field as the API does. A code missing here
falls back to the English message, and a test keeps every code the services raise in it.
"""

from __future__ import annotations

CHINESE: dict[str, str] = {
    "REQUIRED": "{field}为必填项",
    "INVALID": "{field}的值无效",
    "NOT_FOUND": "{field}所指的对象不存在",
    "TOO_MANY": "{field}数量超过上限",
    "TOO_LONG": "{field}过长",
    "OUT_OF_RANGE": "{field}超出允许范围",
    "INVALID_CHARACTER": "{field}含有不可见的控制字符、方向控制符或零宽字符",
    "UNKNOWN_COUNTY": "{field}不是已知的县（区）代码",
    "UNKNOWN_TOWN": "{field}不是该县的乡镇",
    "OUTSIDE_COUNTY": "{field}所在位置不在该县境内",
    "GEOCODE_FAILED": "无法根据地址确定位置，请提供坐标",
    "IMMUTABLE": "{field}登记后不可更改",
    "IN_FUTURE": "{field}不能晚于当前时间",
    "TOO_OLD": "{field}过早",
    "MISSING_ITEMS": "检查表还有未填写的项目",
    "UNKNOWN_ITEM": "评定标准中没有{field}所填的项目",
    "DUPLICATE_ITEM": "同一项目填写了不止一次",
    "NOT_SCORED": "必备项只填是否通过，不填分数",
    "NOT_MANDATORY": "评分项只填分数，不填是否通过",
    "OTHER_COUNTY": "{field}的照片属于其他县，不能引用",
    "CONFLICT": "数据已被他人修改或编号已被占用，请刷新后重试",
    "SELF_REVIEW": "不能审核本人或本人所建账号提交的检查",
    "ALREADY_REVIEWED": "该检查已审核",
    "INVALID_TRANSITION": "证书当前的状态不允许此操作",
    "OTHER_HOMESTAY": "{field}所指的照片属于其他民宿",
    "UNKNOWN_FACILITY": "{field}不是设施词表中的设施",
    "NOT_APPEALABLE": "{field}所指的决定不能申诉：只能对驳回、暂停或撤销申诉",
    "TOO_LATE": "已超过申诉期限（决定作出后30天内）",
    "ALREADY_APPEALED": "该决定已经申诉过",
    "ALREADY_DECIDED": "该申诉已处理",
    "NOT_IMPARTIAL": "申诉所涉决定由本人作出，须由他人处理",
    "ALREADY_CLOSED": "该投诉已处理完毕",
    "NOT_ALLOWED": "令牌只能创建检查员账号；局方账号由管理员在命令行创建",
}


def chinese(code: str, field: list[str] | None, english: str) -> str:
    template = CHINESE.get(code)
    if template is None:
        return english
    return template.format(field=f"“{'.'.join(field)}”" if field else "")
