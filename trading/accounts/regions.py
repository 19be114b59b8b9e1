"""Names of administrative divisions (行政区划) for the six-digit codes tenders, lots and experts carry.

The codes are GB/T 2260《中华人民共和国行政区划代码》: two digits for the province, two for the
prefecture city, two for the district or county; ``350000`` is 福建省, ``350100`` 福州市, ``350102``
福州市鼓楼区. The table holds every province, the capitals and sub-provincial cities, and every
city and district of Fujian, where the platform is run; it follows the Ministry of Civil Affairs'
list after the 2021 changes (三明 merged 梅列 into 三元区 and made 沙县 a district; 漳州 made 龙海 and
长泰 districts). A code the table does not know is shown as the code itself: a name guessed from
its prefix could be wrong, and a wrong place on a tender notice misleads.
"""

from __future__ import annotations

import re

PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}

MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
"""Provinces that are cities (直辖市): their ``xx0100`` is the city itself, not a prefecture."""

CITIES: dict[str, str] = {
    # Capitals and sub-provincial cities (副省级城市) of the other provinces.
    "130100": "石家庄市",
    "140100": "太原市",
    "150100": "呼和浩特市",
    "210100": "沈阳市",
    "210200": "大连市",
    "220100": "长春市",
    "230100": "哈尔滨市",
    "320100": "南京市",
    "320500": "苏州市",
    "330100": "杭州市",
    "330200": "宁波市",
    "340100": "合肥市",
    "360100": "南昌市",
    "370100": "济南市",
    "370200": "青岛市",
    "410100": "郑州市",
    "420100": "武汉市",
    "430100": "长沙市",
    "440100": "广州市",
    "440300": "深圳市",
    "450100": "南宁市",
    "460100": "海口市",
    "510100": "成都市",
    "520100": "贵阳市",
    "530100": "昆明市",
    "540100": "拉萨市",
    "610100": "西安市",
    "620100": "兰州市",
    "630100": "西宁市",
    "640100": "银川市",
    "650100": "乌鲁木齐市",
    # Fujian: every prefecture city.
    "350100": "福州市",
    "350200": "厦门市",
    "350300": "莆田市",
    "350400": "三明市",
    "350500": "泉州市",
    "350600": "漳州市",
    "350700": "南平市",
    "350800": "龙岩市",
    "350900": "宁德市",
}

DISTRICTS: dict[str, str] = {
    # 福州市
    "350102": "鼓楼区",
    "350103": "台江区",
    "350104": "仓山区",
    "350105": "马尾区",
    "350111": "晋安区",
    "350112": "长乐区",
    "350121": "闽侯县",
    "350122": "连江县",
    "350123": "罗源县",
    "350124": "闽清县",
    "350125": "永泰县",
    "350128": "平潭县",
    "350181": "福清市",
    # 厦门市
    "350203": "思明区",
    "350205": "海沧区",
    "350206": "湖里区",
    "350211": "集美区",
    "350212": "同安区",
    "350213": "翔安区",
    # 莆田市
    "350302": "城厢区",
    "350303": "涵江区",
    "350304": "荔城区",
    "350305": "秀屿区",
    "350322": "仙游县",
    # 三明市
    "350404": "三元区",
    "350405": "沙县区",
    "350421": "明溪县",
    "350423": "清流县",
    "350424": "宁化县",
    "350425": "大田县",
    "350426": "尤溪县",
    "350428": "将乐县",
    "350429": "泰宁县",
    "350430": "建宁县",
    "350481": "永安市",
    # 泉州市
    "350502": "鲤城区",
    "350503": "丰泽区",
    "350504": "洛江区",
    "350505": "泉港区",
    "350521": "惠安县",
    "350524": "安溪县",
    "350525": "永春县",
    "350526": "德化县",
    "350527": "金门县",
    "350581": "石狮市",
    "350582": "晋江市",
    "350583": "南安市",
    # 漳州市
    "350602": "芗城区",
    "350603": "龙文区",
    "350604": "龙海区",
    "350605": "长泰区",
    "350622": "云霄县",
    "350623": "漳浦县",
    "350624": "诏安县",
    "350626": "东山县",
    "350627": "南靖县",
    "350628": "平和县",
    "350629": "华安县",
    # 南平市
    "350702": "延平区",
    "350703": "建阳区",
    "350721": "顺昌县",
    "350722": "浦城县",
    "350723": "光泽县",
    "350724": "松溪县",
    "350725": "政和县",
    "350781": "邵武市",
    "350782": "武夷山市",
    "350783": "建瓯市",
    # 龙岩市
    "350802": "新罗区",
    "350803": "永定区",
    "350821": "长汀县",
    "350823": "上杭县",
    "350824": "武平县",
    "350825": "连城县",
    "350881": "漳平市",
    # 宁德市
    "350902": "蕉城区",
    "350921": "霞浦县",
    "350922": "古田县",
    "350923": "屏南县",
    "350924": "寿宁县",
    "350925": "周宁县",
    "350926": "柘荣县",
    "350981": "福安市",
    "350982": "福鼎市",
}

CODE = re.compile(r"\d{6}")


def region_name(code: str | None) -> str:
    """``350100`` → 福州市, ``350102`` → 福州市鼓楼区, ``350000`` → 福建省; anything else as given."""
    if code is None:
        return ""
    if not CODE.fullmatch(code):
        return code
    province = code[:2]
    if code.endswith("0000"):
        return PROVINCES.get(province, code)
    if province in MUNICIPALITIES and code.endswith("00"):
        # 110100 is 北京市's "市辖区" line: to a person it is the city.
        return PROVINCES[province]
    if code.endswith("00"):
        return CITIES.get(code, code)
    district = DISTRICTS.get(code)
    city = CITIES.get(code[:4] + "00")
    if district is None or city is None:
        return code
    return city + district


def known_regions() -> list[tuple[str, str]]:
    """Every code the table names, with its name, in code order (a form's list to choose from)."""
    codes = [f"{p}0000" for p in PROVINCES] + list(CITIES) + list(DISTRICTS)
    return [(code, region_name(code)) for code in sorted(codes)]


#: Provinces whose every city and district the table holds: there a code it does not name is wrong.
COMPLETE = frozenset({"35"})


def is_region(code: str) -> bool:
    """Whether ``code`` can be a GB/T 2260 code: six digits under a province the table names, a
    province's own code ending ``0000`` (not ``xx0001``); in a province the table holds whole
    (``COMPLETE``), a code it names. Elsewhere the table holds only the capitals, so any city and
    district under a known province is taken: refusing a real county would stop a real tender."""
    if not CODE.fullmatch(code) or code[:2] not in PROVINCES:
        return False
    if code[2:4] == "00" and code[4:] != "00":
        return False
    if code[:2] in COMPLETE:
        return region_name(code) != code
    return True
