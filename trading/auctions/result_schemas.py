"""The answer of the result's API (``GET /api/v1/auctions/<code>/result``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from trading.core.apispec import Reply


class AuctionResultOut(Reply):
    auction: str = Field(description="标的编号")
    title: str
    state: str = Field(description="sold（已成交）或 failed（流拍）")
    state_label: str
    outcome: str = Field(description="sold 或 failed，与签名结果一致")
    final_price: str | None = Field(description="成交价（元，两位小数）；流拍时为空")
    winner: dict[str, Any] | None = Field(description="竞得人：竞买号牌、名称、统一社会信用代码；流拍时为空")
    ended_at: dt.datetime
    publicity_ends_at: dt.datetime | None = Field(description="成交公示截止时间")
    in_publicity: bool = Field(description="现在是否处于成交公示期")
    result: dict[str, Any] = Field(
        description="平台签名的结果声明内容（ggzy-auction-result/1）：起始价、加价幅度、限时周期、"
        "全部出价摘要、底价的承诺与揭示、结果"
    )
    statement: str = Field(description="平台签名文件（规范 JSON：statement、signature、signer_cert，均为 base64）")
    result_sm3: str = Field(description="签名文件的 SM3")
    pdf: str = Field(description="成交确认书或流拍公告（PDF）的地址")
