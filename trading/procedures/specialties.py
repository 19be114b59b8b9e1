"""Evaluation experts' specialties (评标专家专业) by code, as people read them.

The codes are the first level of 《评标专家专业分类标准（试行）》(发改法规〔2010〕1538号): a letter for
the kind of subject (A 工程, B 货物, C 服务) and two digits for the category. The expert pool, the
lots' committee specialties and the draw keep the code; every page, PDF and CLI shows the name
through ``specialty_name`` (the Jinja filter ``specialty``), so there is one table.
"""

from __future__ import annotations

KIND_NAMES = {"A": "工程", "B": "货物", "C": "服务"}

SPECIALTY_NAMES = {
    # 工程类
    "A01": "规划",
    "A02": "投资策划与决策",
    "A03": "勘察",
    "A04": "设计",
    "A05": "监理",
    "A06": "工程造价",
    "A07": "项目管理（含代建）",
    "A08": "工程施工",
    "A09": "其他工程",
    # 货物类
    "B01": "机械、设备",
    "B02": "医疗器械",
    "B03": "金属材料",
    "B04": "石油及其制品",
    "B05": "煤炭煤层气及其制品",
    "B06": "化工材料及其制品",
    "B07": "建筑材料",
    "B08": "药品",
    "B09": "其他货物",
    # 服务类
    "C01": "勘察与调查",
    "C02": "公共咨询",
    "C03": "经济管理",
    "C04": "工商管理",
    "C05": "金融",
    "C06": "法律",
    "C07": "修理",
    "C08": "租赁",
    "C09": "交通运输与物流",
    "C10": "节能服务",
    "C11": "高新技术服务",
    "C12": "其他服务",
}


def specialty_name(code: str) -> str:
    """``A08`` → ``工程施工``; a code the table does not know is shown as it is, never hidden."""
    return SPECIALTY_NAMES.get(code, code)


def specialty_label(code: str) -> str:
    """The name with its kind, for a choice list: ``A08`` → ``工程 · 工程施工``."""
    name = SPECIALTY_NAMES.get(code)
    if name is None:
        return code
    return f"{KIND_NAMES[code[0]]} · {name}"
