"""Scoring templates (评标办法模板): the evaluation methods a tender's page form offers, as data.

The law names two methods (招标投标法第四十一条; 《评标委员会和评标方法暂行规定》第二十九条):
the comprehensive evaluation (综合评估法), where every factor scores and the price is one factor,
and the lowest evaluated price (经评审的最低投标价法) once the bid is compliant. Government
procurement scores the price by the low-price-first rule (低价优先法), 30–60 % of the total for
goods and 10–30 % for services (《政府采购货物和服务招标投标管理办法》财政部令第87号 第五十五条;
``trading.tenders.schemas.TenderIn`` checks it).
A tender made through the API may carry any criteria the schema accepts; these are the page's
shortcuts.
"""

from __future__ import annotations

from typing import Any

#: by key: ``label`` (shown on the form), ``method`` (``EvaluationMethod`` value), ``criteria`` (as a lot stores them)
SCORING_TEMPLATES: dict[str, dict[str, Any]] = {
    "construction": {
        "label": "综合评估法：施工组织设计50 + 项目管理机构10 + 投标报价40（基准价法）",
        "method": "comprehensive",
        "criteria": {
            "compliance": ["营业执照", "资质证书", "安全生产许可证"],
            "factors": [
                {"name": "施工组织设计", "weight": 50},
                {"name": "项目管理机构", "weight": 10, "objective": True},
            ],
            "price": {"formula": "benchmark", "weight": 40},
        },
    },
    "gp_goods": {
        "label": "政府采购货物综合评分：技术40 + 商务20 + 价格40（低价优先法）",
        "method": "comprehensive",
        "criteria": {
            "compliance": ["资格证明文件"],
            "factors": [
                {"name": "技术参数响应", "weight": 40},
                {"name": "商务及售后服务", "weight": 20, "objective": True},
            ],
            "price": {"formula": "gp_low_price", "weight": 40},
        },
    },
    "gp_services": {
        "label": "政府采购服务综合评分：服务方案60 + 业绩15 + 价格25（低价优先法）",
        "method": "comprehensive",
        "criteria": {
            "compliance": ["资格证明文件"],
            "factors": [{"name": "服务方案", "weight": 60}, {"name": "类似业绩", "weight": 15, "objective": True}],
            "price": {"formula": "gp_low_price", "weight": 25},
        },
    },
    "lowest": {
        "label": "经评审的最低投标价法",
        "method": "lowest_price",
        "criteria": {
            "compliance": ["营业执照", "资质证书"],
            "factors": [],
            "price": {"formula": "lowest", "weight": 100},
        },
    },
}
