"""What each audit action and object is called on the audit page, in the API's ``*_label`` fields and
in ``ggzy``: the one table of the trail's vocabulary.

The trail keeps its codes (``announcement.publish``): they are signed into the log and read by
verifiers. Every code the platform writes has a label here; ``tests/trading/test_audit_labels.py``
finds the codes in the source and in a finished demo's trail and fails on one without. The audit
stage comes before the stages whose enums make some codes (``ceremony.<stage>``, ``draw.<state>``),
so the table spells them out and the test checks them against the enums.
"""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    # accounts
    "organisation.create": "登记机构",
    "user.create": "创建用户",
    "user.disable": "停用用户",
    "user.enable": "启用用户",
    "session.open.web": "网页登录",
    "session.open.api": "取得访问令牌",
    "session.revoke": "退出登录或吊销令牌",
    "login_attempt.prune": "清理过期的登录记录",
    # pki
    "certificate.register": "登记证书",
    "certificate.revoke": "吊销证书",
    # procedures and the platform
    "procedure.create": "登记交易程序",
    "holiday.set": "设置节假日",
    "holiday.delete": "删除节假日",
    "scheduler.acquire": "定时任务进程开始值守",
    # tenders
    "tender.create": "创建招标项目",
    "tender.update": "修改招标项目",
    "tender.submit": "提交招标项目审核",
    "tender.return": "退回招标项目",
    "tender.publish": "发布招标项目",
    "tender.suspend": "暂停招标",
    "tender.resume": "恢复招标",
    "tender.terminate": "终止招标",
    "tender.bidding_close": "投标截止",
    "tender.deadline_move": "变更投标截止时间",
    "tender.close_failed": "投标截止处理失败",
    "lot.open": "标段进入开标",
    "lot.fail": "标段流标",
    "lot.evaluate": "标段进入评标",
    "lot.publicise": "标段进入中标候选人公示",
    "lot.award": "标段定标",
    "lot.terminate": "标段终止",
    "lot.suspend": "标段暂停（投诉处理期间）",
    "lot.resume": "标段恢复",
    "announcement.submit": "提交公告审核",
    "announcement.publish": "发布公告",
    "announcement.return": "退回公告",
    "tender_document.upload": "上传招标文件",
    "tender_document.read": "查阅招标文件",
    "tender_document.read_damaged": "招标文件校验不符",
    "tender_document.download": "下载招标文件（密封记录）",
    "interest.register": "投标报名（密封记录）",
    "interest.refused": "报名被信用查询拒绝（密封记录）",
    "question.ask": "提出问题（密封记录）",
    "question.answer": "答复问题",
    "notification.send": "发送通知",
    "sealed.reveal": "截止后公开密封记录",
    "sealed.reveal_failed": "公开密封记录失败",
    # bids
    "bid.submit": "投标文件送达",
    "bid.withdraw": "撤回投标文件",
    # guarantees
    "guarantee.apply": "申请电子保函（密封记录）",
    "guarantee.cancel": "撤销保函申请",
    "guarantee.issue": "出具电子保函",
    "guarantee.reject": "拒绝出具保函",
    "guarantee.refuse": "保函未通过平台校验",
    "guarantee.reveal": "公开密封保函",
    "guarantee.invalid": "保函认定无效",
    "guarantee.claim": "保函进入索赔",
    "guarantee.claim_paid": "索赔已赔付",
    "guarantee.claim_refused": "索赔被拒绝",
    "guarantee.release": "释放保函",
    "guarantee.release_failed": "释放保函失败",
    "guarantee.cancel_failed": "撤销保函申请失败",
    # opening (ceremony.<stage> is the room moving to that stage)
    "ceremony.create": "创建开标室",
    "ceremony.scheduled": "开标室待开标",
    "ceremony.sign_in": "开标签到",
    "ceremony.bidders": "公布投标人名单",
    "ceremony.decrypting": "开始解密",
    "ceremony.reading": "唱标",
    "ceremony.confirming": "开标记录确认",
    "ceremony.closed": "开标结束",
    "ceremony.failed": "开标流标",
    "ceremony.cancelled": "开标取消",
    "ceremony.key_release": "投标人提交解密密钥",
    "ceremony.decrypted": "投标文件解密成功",
    "ceremony.decrypt_failed": "投标文件解密失败",
    "ceremony.classify": "认定未解密投标文件（撤销或撤回）",
    "ceremony.confirm": "确认开标记录",
    "ceremony.objection": "提出开标异议",
    "ceremony.objection_answer": "答复开标异议",
    "ceremony.message": "开标室发言",
    "ceremony.pause": "暂停开标",
    "ceremony.resume": "恢复开标",
    "ceremony.extend": "延长开标环节",
    "ceremony.record": "生成开标记录",
    "ceremony.advance_failed": "开标自动推进失败",
    "decryption.requeue": "解密任务重新排队",
    "decryption.set_aside": "解密任务搁置",
    "opening.joint_advance": "合并开标：各标段进入下一环节",
    "opening.joint_pause": "合并开标：暂停",
    "opening.joint_resume": "合并开标：恢复",
    "opening.joint_extend": "合并开标：延长环节",
    # evaluation (draw.<state> is an invited expert's answer)
    "expert.add": "专家入库",
    "expert.declare": "专家申报利害关系",
    "draw.commit": "公布专家抽取承诺",
    "draw.run": "抽取评标专家",
    "draw.invited": "邀请评标专家",
    "draw.confirmed": "专家确认参加评标",
    "draw.declined": "专家不能参加评标",
    "draw.recused": "专家回避",
    "evaluation.open": "开启评标室",
    "evaluation.seat": "专家进入评标委员会",
    "evaluation.representative": "指定招标人代表",
    "evaluation.signin": "评标签到",
    "evaluation.pledge": "签署回避承诺",
    "evaluation.recuse": "评标专家回避",
    "evaluation.vote_leader": "推选评标委员会组长",
    "evaluation.compliance_vote": "资格和符合性审查表决",
    "evaluation.clarify_ask": "要求投标人澄清",
    "evaluation.clarify_answer": "投标人澄清",
    "evaluation.bid_access": "调阅投标文件",
    "evaluation.score": "评分",
    "evaluation.score_revise": "修改评分",
    "evaluation.checks": "评分复核提示",
    "evaluation.flag_resolve": "处理评分复核提示",
    "evaluation.stage": "评标进入下一阶段",
    "evaluation.report_sign": "签署评标报告",
    # awards
    "evaluation.objection": "对中标候选人提出异议",
    "evaluation.objection_answer": "答复中标候选人异议",
    "evaluation.objection_overdue": "异议答复逾期",
    "evaluation.objection_overdue_failed": "异议逾期检查失败",
    "evaluation.publicity_overdue": "评标报告逾期未公示",
    "evaluation.publicity_extend": "公示期按投诉暂停的时间顺延",
    "evaluation.publicity_overdue_failed": "公示逾期检查失败",
    "evaluation.contract": "登记合同签订",
    # supervision: rules and warnings
    "supervision_rule.seed": "写入监督规则（初始版本）",
    "supervision_rule.change": "修改监督规则（新增版本）",
    "supervision_clock.yellow": "时限黄灯预警",
    "supervision_clock.red": "时限红灯超期",
    "supervision_clock.late": "超期办结（红灯追责）",
    "supervision_clock.event_failed": "监督计时处理事件失败",
    "supervision_clock.recolour_failed": "监督计时变色失败",
    # supervision: monitor and statistics
    "stats.lot_fact": "记录标段统计事实（交易统计）",
    "stats.lot_fact_failed": "记录标段统计事实失败",
    # supervision: complaints
    "complaint.file": "提出投诉",
    "complaint.evidence": "提交投诉证明材料",
    "complaint.document": "签发投诉文书",
    "complaint.accept": "受理投诉",
    "complaint.refuse": "不予受理投诉",
    "complaint.suspend": "投诉处理期间暂停招标投标活动",
    "complaint.resume": "解除投诉处理期间的暂停",
    "complaint.ask": "要求当事人就投诉作出说明",
    "complaint.statement": "当事人就投诉作出说明",
    "complaint.decide": "作出投诉处理决定",
    "complaint.withdraw": "撤回投诉",
    # credit
    "credit.imported": "导入信用名单",
    "credit.entry_added": "新增信用记录",
    "credit.entry_revoked": "撤销信用记录",
    "credit.checked": "评标时信用查询",
    "credit.proposed": "平台信用事件（待确认）",
    "credit.proposal_confirmed": "确认平台信用事件",
    "credit.proposal_dismissed": "驳回平台信用事件",
    # signals and ratings
    "signals.computed": "计算串标迹象",
    "signals.reviewed": "评标委员会研判串标迹象",
    "expert_rating.rate": "专家标后评价",
    "service_rating.rate": "服务好差评",
    "service_rating.answer": "答复服务差评",
    # archives
    "archive.build": "生成档案包",
    "archive.build_failed": "生成档案包失败",
    "archive.verify": "核验档案包",
    "archive.download": "下载档案包",
    "archive.download_damaged": "档案包校验不符",
    "archive.legal_hold": "设置法律保留",
    "archive.delete": "删除档案包",
    "archive.delete_refused": "拒绝删除档案包",
    # open data
    "ocds.publish": "发布开放数据",
    "ocds.hold": "开放数据暂缓发布（生成失败，稍后重试）",
    "ocds.bulk": "生成开放数据批量文件",
    # the national data exchange
    "exchange.queue": "生成数据交换记录",
    "exchange.pushed": "推送数据交换记录",
    "exchange.push_failed": "数据交换记录推送失败",
    "exchange.refused": "数据交换记录被拒收",
    "exchange.requeue": "重新推送被拒收的数据交换记录",
    "exchange.build_failed": "生成数据交换记录失败",
}

#: the actions' first words, as the audit page's filter groups them
NAMESPACE_LABELS: dict[str, str] = {
    "organisation": "机构",
    "user": "用户",
    "session": "登录与令牌",
    "login_attempt": "登录记录",
    "certificate": "证书",
    "procedure": "交易程序",
    "holiday": "节假日",
    "scheduler": "定时任务",
    "tender": "招标项目",
    "lot": "标段",
    "announcement": "公告",
    "tender_document": "招标文件",
    "interest": "投标报名",
    "question": "答疑",
    "notification": "通知",
    "sealed": "密封记录",
    "bid": "投标文件",
    "guarantee": "电子保函",
    "ceremony": "开标",
    "decryption": "解密任务",
    "opening": "合并开标",
    "expert": "评标专家",
    "draw": "专家抽取",
    "evaluation": "评标与公示",
    "archive": "档案",
    "credit": "信用记录",
    "signals": "串标迹象",
    "expert_rating": "专家评价",
    "service_rating": "服务好差评",
    # supervision: rules and warnings
    "supervision_rule": "监督规则",
    "supervision_clock": "时限预警",
    # supervision: complaints
    "complaint": "投诉",
    # supervision: monitor and statistics
    "stats": "交易统计",
    "ocds": "开放数据",
    "exchange": "数据交换",
}

#: what an audit event is about (its object type), as the audit page names it
OBJECT_LABELS: dict[str, str] = {
    "organisation": "机构",
    "user": "用户",
    "auth_session": "会话",
    "login_attempt": "登录记录",
    "certificate": "证书",
    "user_certificate": "用户证书",
    "procedure": "交易程序",
    "holiday": "节假日",
    "scheduler": "定时任务",
    "tender": "招标项目",
    "lot": "标段",
    "announcement": "公告",
    "tender_document": "招标文件",
    "question": "问题",
    "notification": "通知",
    "sealed": "密封记录",
    "bid": "投标文件",
    "guarantee_order": "保函申请",
    "guarantee": "保函",
    "guarantee_claim": "索赔",
    "ceremony": "开标室",
    "ceremony_bidder": "开标席位",
    "decryption_job": "解密任务",
    "expert": "专家",
    "expert_draw": "专家抽取",
    "expert_draw_member": "抽取结果",
    "evaluation": "评标",
    "evaluation_seat": "评标席位",
    "evaluation_score": "评分表",
    "evaluation_flag": "评分复核提示",
    "evaluation_clarification": "澄清",
    "evaluation_objection": "异议",
    "archive_package": "档案包",
    "ocds_bulk": "开放数据批量文件",
    "exchange_record": "数据交换记录",
    "audit_event": "审计事件",
    # supervision: rules and warnings
    "supervision_rule": "监督规则",
    "supervision_clock": "监督计时",
    # supervision: complaints
    "complaint": "投诉",
    "complaint_file": "投诉文书与材料",
    "complaint_statement": "投诉说明要求",
    # credit, signals and ratings
    "credit_entry": "信用记录",
    "credit_import": "信用名单导入",
    "credit_check": "信用查询快照",
    "credit_proposal": "平台信用事件",
    "signal_run": "串标迹象计算",
    "signal_review": "串标迹象研判",
    "expert_rating": "专家评价",
    "service_rating": "服务评价",
}

#: the actors that are not a user (``ActorRef``s): the scheduler, anonymous requests, a bidder's
#: sealed step, the operators' command line
ACTOR_LABELS: dict[str, str] = {
    "system": "平台（定时任务）",
    "anonymous": "未登录访问者",
    "sealed": "投标人（身份密封至投标截止）",
    "cli": "运维命令行",
}


def action_label(code: str) -> str:
    """``announcement.publish`` → 发布公告; an unknown code is shown as itself (a test keeps none)."""
    return ACTION_LABELS.get(code, code)


def object_label(object_type: str) -> str:
    return OBJECT_LABELS.get(object_type, object_type)


def namespaces() -> dict[str, list[tuple[str, str]]]:
    """The actions grouped by their first word (``ceremony``: every opening action), in table order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, label in ACTION_LABELS.items():
        groups.setdefault(code.split(".", 1)[0], []).append((code, label))
    return groups
