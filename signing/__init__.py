"""GM cryptography for ggzy: SM3, SM4, SM2, certificates, the sealed-bid envelope and
platform-signed statements. No Flask, no database; other packages import crypto only from
here."""
