"""``ggzy-bid``: the bidder's tool. Keys are made, and bids sealed and checked, on the bidder's
own machine; the platform never sees a bid's plaintext or key before the opening.

The commands live by subject: ``offline`` (keys, sealing, checking, receipts), ``account`` (one's
certificates and notices), ``tendering`` (registering, questions), ``bids`` (talking to the platform
about tenders and bids), ``ceremony`` (the opening), ``after_opening`` (clarifications, the
publicity and objections to it), ``guarantees`` and ``complaints`` (投诉 to the supervising department).
"""

from __future__ import annotations

import click

from bidding.cli import account, after_opening, auction, bids, ceremony, complaints, guarantees, offline, tendering


@click.group(help="ggzy-bid 投标工具：生成密钥、封装、校验投标文件 (the bidder's tool: keys, sealing, checking)")
def main() -> None:
    pass


for _command in (
    offline.keygen,
    offline.rekey,
    offline.seal_cmd,
    offline.verify,
    offline.unseal_cmd,
    offline.sign_document,
    offline.receipt,
    bids.login,
    account.certs,
    account.notices,
    bids.tenders,
    tendering.register,
    tendering.questions,
    bids.download,
    bids.build,
    bids.upload,
    bids.uploads,
    bids.status,
    bids.withdraw,
    ceremony.ceremonies,
    ceremony.signin,
    ceremony.decrypt,
    ceremony.confirm,
    ceremony.object_cmd,
    ceremony.objections,
    after_opening.clarifications,
    after_opening.publicity,
    guarantees.guarantee,
    complaints.complaints,
    auction.auction,
):
    main.add_command(_command)

__all__ = ["main"]

if __name__ == "__main__":
    main()
