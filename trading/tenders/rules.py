"""Pure rules of the tender stage."""

from __future__ import annotations

from collections.abc import Sequence

from trading.tenders.models import LotState, Tender, TenderState

# The life of a lot once bidding has closed, in the order of the law: 开标 and 评标 (招标投标法
# 第三十四条、第三十七条), 公示 (实施条例第五十四条), then 定标 (第四十条) or 流标 (第二十八条、实施条例第四十四条) or 终止
# (实施条例第三十一条).
LOT_LIFE = {
    LotState.BIDDING: "投标已截止",
    LotState.OPENING: "开标中",
    LotState.EVALUATING: "评标中",
    LotState.PUBLICITY: "公示中",
    LotState.AWARDED: "已定标",
    LotState.FAILED: "流标",
    LotState.TERMINATED: "已终止",
}
_ORDER = [LotState.BIDDING, LotState.OPENING, LotState.EVALUATING, LotState.PUBLICITY]


def lot_life_label(tender: TenderState, lot: LotState) -> str:
    """What one lot's state reads to users: before the deadline the tender's own state (待审核,
    招标中…), after it the lot's life (招标投标法第二十八条 to 第四十五条)."""
    if tender is TenderState.TERMINATED or lot is LotState.TERMINATED:
        return LOT_LIFE[LotState.TERMINATED]
    if tender is not TenderState.BIDDING_CLOSED and lot is LotState.BIDDING:
        return tender.label
    return LOT_LIFE[lot]


def life_label(tender: TenderState, lots: Sequence[LotState]) -> str:
    """The tender's state as users read it through its whole life (招标投标法第二十八条 to
    第四十五条): before the deadline its own state; after it, its lots' common state; when the lots
    part ways, "部分标段已定标" once one is awarded, else the least advanced lot still running, else
    流标 if any lot failed (the others ended terminated)."""
    labels = {lot_life_label(tender, lot) for lot in lots}
    if not lots:
        return tender.label
    if len(labels) == 1:
        return labels.pop()
    if LotState.AWARDED in lots:
        return "部分标段已定标"
    running = [s for s in _ORDER if s in lots]
    if running:
        return lot_life_label(tender, running[0])
    return LOT_LIFE[LotState.FAILED]


def tender_life_label(tender: Tender) -> str:
    """``life_label`` of a loaded tender (for templates)."""
    return life_label(tender.status, [lot.status for lot in tender.lots])


# What a document's extension means to a person (the page shows this, not ``txt``).
DOCUMENT_KINDS = {
    "pdf": "PDF 文档",
    "ofd": "版式文档",
    "txt": "纯文本",
    "doc": "文字处理文档",
    "docx": "文字处理文档",
    "wps": "文字处理文档",
    "xls": "电子表格",
    "xlsx": "电子表格",
    "et": "电子表格",
    "zip": "压缩包",
    "rar": "压缩包",
    "7z": "压缩包",
    "dwg": "工程图纸",
    "dxf": "工程图纸",
    "jpg": "图片",
    "jpeg": "图片",
    "png": "图片",
}


def document_kind(name: str) -> tuple[str, str]:
    """A document's name without its extension, and its kind in words: ``招标文件.txt`` →
    (``招标文件``, ``纯文本``); a name without a known extension is kept whole (``其他文件``)."""
    stem, dot, ext = name.rpartition(".")
    kind = DOCUMENT_KINDS.get(ext.lower()) if dot and stem else None
    return (stem, kind) if kind else (name, "其他文件")
