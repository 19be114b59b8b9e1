"""The bidder side: enterprise registration, bid submission and receipts, remote decryption,
electronic guarantees, objections, and the bidder CLI ``ggzy-bid``."""
