/* The bidder's key files in the browser: what `ggzy-bid signin | decrypt | confirm` do, for a bidder
 * who uses the room page instead of the tool. Private keys are read from the chosen files and used
 * in this page only; nothing but signatures and the bid key re-wrapped to the ceremony key is sent.
 *
 * Key files are PKCS#8 as `ggzy-bid keygen` writes them (PBES2: PBKDF2-HMAC-SHA256 with SM4-CBC or
 * AES-CBC), or unencrypted. PBKDF2 and AES run in WebCrypto; SM2/SM3/SM4 come from the vendored
 * sm-crypto-v2 (its nonces come from crypto.getRandomValues). Statements are built here the same
 * way signing/statements.py builds them (canonical JSON), and the server verifies every signature. */
(function (root) {
  "use strict";
  const S = root.SmCryptoV2;
  const USER_ID = "1234567812345678"; // GM/T 0009 default, as signing/sm2.py
  const enc = new TextEncoder();

  class UKeyError extends Error {}
  const fail = (msg) => { throw new UKeyError(msg); };

  const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (s) => Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
  const b64 = (u8) => btoa(Array.from(u8, (b) => String.fromCharCode(b)).join(""));
  const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const sm3hex = (u8) => S.sm3(u8);

  // --- DER, just enough for PKCS#8, PBES2 and an X.509 SubjectPublicKeyInfo ---
  function node(buf, pos) {
    if (pos + 2 > buf.length) fail("DER 数据不完整");
    const tag = buf[pos];
    let len = buf[pos + 1];
    let p = pos + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 4) fail("DER 长度格式错误");
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p++];
    }
    if (p + len > buf.length) fail("DER 长度越界");
    return { tag, start: p, end: p + len, buf };
  }
  function kids(n) {
    const out = [];
    for (let p = n.start; p < n.end; ) {
      const c = node(n.buf, p);
      out.push(c);
      p = c.end;
    }
    return out;
  }
  const body = (n) => n.buf.subarray(n.start, n.end);
  function oid(n) {
    if (n.tag !== 0x06) fail("DER: 应为 OID");
    const b = body(n);
    const parts = [Math.floor(b[0] / 40), b[0] % 40];
    let v = 0;
    for (const x of b.subarray(1)) {
      v = v * 128 + (x & 0x7f);
      if (!(x & 0x80)) { parts.push(v); v = 0; }
    }
    return parts.join(".");
  }
  const integer = (n) => body(n).reduce((a, x) => a * 256 + x, 0);

  const OID = {
    pbes2: "1.2.840.113549.1.5.13",
    pbkdf2: "1.2.840.113549.1.5.12",
    hmacSHA256: "1.2.840.113549.2.9",
    sm4cbc: "1.2.156.10197.1.104.2",
    aes128cbc: "2.16.840.1.101.3.4.1.2",
    aes256cbc: "2.16.840.1.101.3.4.1.42",
    ecPublicKey: "1.2.840.10045.2.1",
    sm2: "1.2.156.10197.1.301",
  };

  function pem(text, label) {
    const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(text);
    return m ? unb64(m[1].replace(/\s+/g, "")) : null;
  }

  async function pbes2Decrypt(der, password) {
    const [alg, data] = kids(node(der, 0));
    const [algOid, params] = kids(alg);
    if (oid(algOid) !== OID.pbes2) fail("私钥文件的加密方式不受支持（应为 PBES2）");
    const [kdf, scheme] = kids(params);
    const [kdfOid, kdfParams] = kids(kdf);
    if (oid(kdfOid) !== OID.pbkdf2) fail("私钥文件的口令算法不受支持（应为 PBKDF2）");
    const kp = kids(kdfParams);
    const salt = body(kp[0]);
    const iterations = integer(kp[1]);
    const prf = kp.find((k) => k.tag === 0x30);
    if (!prf || oid(kids(prf)[0]) !== OID.hmacSHA256) fail("私钥文件的口令算法不受支持（应为 HMAC-SHA256）");
    const [cipherOid, ivNode] = kids(scheme);
    const cipher = oid(cipherOid);
    const keyBits = { [OID.sm4cbc]: 128, [OID.aes128cbc]: 128, [OID.aes256cbc]: 256 }[cipher];
    if (!keyBits) fail("私钥文件的加密算法不受支持");
    const iv = body(ivNode);
    const pw = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveBits"]);
    const bits = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "PBKDF2", salt, iterations, hash: "SHA-256" }, pw, keyBits),
    );
    const secret = body(data);
    try {
      if (cipher === OID.sm4cbc) {
        const out = S.sm4.decrypt(secret, bits, { mode: "cbc", iv, padding: "pkcs#7", output: "array" });
        if (!out || !out.length) throw new Error("padding");
        return new Uint8Array(out);
      }
      const key = await crypto.subtle.importKey("raw", bits, "AES-CBC", false, ["decrypt"]);
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv }, key, secret));
    } catch (e) {
      fail("私钥口令错误");
    }
  }

  function sm2FromPkcs8(der) {
    let info;
    try {
      info = kids(node(der, 0));
    } catch (e) {
      fail("私钥口令错误或文件已损坏");
    }
    const [, alg, keyOctets] = info;
    const [algOid, curve] = kids(alg);
    if (oid(algOid) !== OID.ecPublicKey || !curve || oid(curve) !== OID.sm2) fail("该文件不是 SM2 私钥");
    const ec = kids(node(body(keyOctets), 0));
    const d = hex(body(ec[1])).padStart(64, "0");
    const pub = S.sm2.getPublicKeyFromPrivateKey(d);
    return { d, pub };
  }

  /** An SM2 private key from the text of a key file (PEM). */
  async function loadKey(text, password) {
    const encrypted = pem(text, "ENCRYPTED PRIVATE KEY");
    if (encrypted) {
      if (!password) fail("请输入私钥口令");
      return sm2FromPkcs8(await pbes2Decrypt(encrypted, password));
    }
    const plain = pem(text, "PRIVATE KEY");
    if (!plain) fail("不是 PKCS#8 私钥文件（应为 ggzy-bid keygen 生成的 .key 文件）");
    return sm2FromPkcs8(plain);
  }

  /** The SM2 point (04‖x‖y, hex) in an X.509 certificate (DER). */
  function certPublicKey(der) {
    const tbs = kids(kids(node(der, 0))[0]);
    const fields = tbs[0].tag === 0xa0 ? tbs.slice(1) : tbs; // [0] version
    const spki = kids(fields[5]);
    const bits = body(spki[1]);
    return hex(bits.subarray(1)); // leading byte: unused bits (0)
  }

  // canonical JSON as signing/canonical.py: sorted keys, no spaces, UTF-8 (ints and strings only here)
  function canonical(v) {
    if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
    if (v && typeof v === "object") {
      return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
    }
    if (typeof v === "number" && !Number.isInteger(v)) fail("规范 JSON 不允许小数");
    return JSON.stringify(v);
  }

  /** base64 DER SM2 signature over a statement (Z with the default ID, as signing/sm2.py). */
  function sign(key, statement) {
    const sig = S.sm2.doSignature(enc.encode(canonical(statement)), key.d, {
      der: true, hash: true, publicKey: key.pub, userId: USER_ID,
    });
    return b64(unhex(sig));
  }

  function verify(publicKeyHex, message, signatureDer) {
    return S.sm2.doVerifySignature(message, hex(signatureDer), publicKeyHex, { der: true, hash: true, userId: USER_ID });
  }

  const statements = {
    signin: (c, bidder) => ({ purpose: "ggzy-ceremony-signin/1", ceremony: c.id, tender: c.tender, lot: c.lot, bidder }),
    decrypt: (c, bidder, ciphertextSm3, wrappedSm3) => ({
      purpose: "ggzy-ceremony-decrypt/1", ceremony: c.id, bidder, ciphertext_sm3: ciphertextSm3, wrapped_key_sm3: wrappedSm3,
    }),
    confirm: (c, bidder, recordSm3) => ({ purpose: "ggzy-opening-record-confirm/1", ceremony: c.id, bidder, record_sm3: recordSm3 }),
  };

  /** The header of a sealed bid (signing/ENVELOPE.md): magic, version, length, canonical JSON. */
  async function readHeader(file) {
    const prefix = new Uint8Array(await file.slice(0, 13).arrayBuffer());
    if (prefix.length < 13 || new TextDecoder().decode(prefix.subarray(0, 8)) !== "GGZYSEAL") fail("不是加密投标文件");
    if (prefix[8] !== 1) fail("加密投标文件版本不受支持");
    const len = new DataView(prefix.buffer).getUint32(9);
    if (len > 1 << 20) fail("加密投标文件头部过大");
    const raw = new Uint8Array(await file.slice(13, 13 + len).arrayBuffer());
    if (raw.length !== len) fail("加密投标文件不完整");
    return { raw, sm3: sm3hex(raw), fields: JSON.parse(new TextDecoder().decode(raw)) };
  }

  const KEY_CHECK_LABEL = enc.encode("GGZY-KEY-CHECK/1");

  /** The bid's SM4 key, unwrapped with the encryption key and checked against the header. */
  function unwrapKey(header, encKey) {
    let key;
    try {
      key = S.sm2.doDecrypt(header.fields.wrapped_key.slice(2), encKey.d, 1, { output: "array" });
    } catch (e) {
      key = null;
    }
    const check = key && key.length === 16 ? sm3hex(new Uint8Array([...KEY_CHECK_LABEL, ...key])) : "";
    if (check !== header.fields.key_check) fail("加密私钥与投标文件不匹配（请选择 enc.key）");
    return new Uint8Array(key);
  }

  /** The ceremony key, accepted only with the platform's signature over this ceremony and key. */
  function checkCeremonyKey(c, got, platformCertDer) {
    const st = JSON.parse(got.statement);
    const signerCert = unb64(st.signer_cert);
    if (hex(signerCert) !== hex(platformCertDer)) fail("开标密钥不是平台证书签发的");
    const statement = unb64(st.statement);
    if (!verify(certPublicKey(signerCert), statement, unb64(st.signature))) fail("开标密钥的平台签名无效");
    const content = JSON.parse(new TextDecoder().decode(statement));
    if (content.type !== "ceremony_key" || content.body.ceremony !== c.id || content.body.public_key !== got.public_key) {
      fail("开标密钥与平台签名不符");
    }
    return got.public_key;
  }

  function wrapTo(publicKeyHex, key) {
    return unhex("04" + S.sm2.doEncrypt(key, publicKeyHex, 1)); // C1C3C2 with C1 uncompressed
  }

  root.GgzyUKey = {
    UKeyError, loadKey, sign, verify, statements, readHeader, unwrapKey, checkCeremonyKey, wrapTo,
    certPublicKey, canonical, pem, hex, unhex, b64, unb64, sm3hex,
  };
})(typeof window !== "undefined" ? window : globalThis);

/* The room page's bidder actions (form#ukey): sign in, decrypt and confirm with the chosen key
 * files. The page names its URLs in the form's data-url-* attributes and its CSRF token in the
 * form's hidden field (no inline script under the CSP); after each action the room redraws from
 * the server's state (the "room:refresh" event room.js listens to), buttons and reasons included. */
(function (root) {
  "use strict";
  if (typeof document === "undefined") return;
  function start() {
    // only the opening room's form: the evaluation room's key section shares the id, not the actions
    const form = document.querySelector("form#ukey");
    if (!form || !root.GgzyUKey) return;
    const U = root.GgzyUKey;
    const urls = form.dataset;
    const csrf = form.querySelector("input[name=csrf_token]").value;
    form.addEventListener("submit", (e) => e.preventDefault());
    const status = (text, bad) => {
      const el = document.getElementById("ukey-status");
      el.textContent = text;
      el.className = bad ? "error" : "ok";
    };
    async function getJson(url) {
      const r = await fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
      if (!r.ok) throw new U.UKeyError("无法读取开标室信息（HTTP " + r.status + "）");
      return r.json();
    }
    async function post(url, body) {
      const r = await fetch(url, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}});
      const got = await r.json().catch(() => ({}));
      if (!r.ok) throw new U.UKeyError((got.error && got.error.message) || ("请求未被接受（HTTP " + r.status + "）"));
      return got;
    }
    function file(id, what) {
      const f = document.getElementById(id).files[0];
      if (!f) throw new U.UKeyError("请选择" + what);
      return f;
    }
    const password = () => document.getElementById("key-password").value;
    const key = async (id, what) => U.loadKey(await file(id, what).text(), password());
    async function seat() {
      const st = await getJson(urls.urlState);
      if (!st.me) throw new U.UKeyError("贵单位在本标段没有有效投标");
      return st;
    }
    const actions = {
      async signin() {
        const st = await seat();
        const k = await key("sign-key", "签名私钥（sign.key）");
        await post(urls.urlSignin, {signature: U.sign(k, U.statements.signin(st, st.me.bidder))});
        return "已签到";
      },
      async decrypt() {
        const st = await seat();
        const header = await U.readHeader(file("sealed-file", "加密投标文件"));
        if (header.sm3 !== st.me.header_sm3) throw new U.UKeyError("该加密投标文件不是贵单位在本标段的有效投标");
        const signKey = await key("sign-key", "签名私钥（sign.key）");
        const contentKey = U.unwrapKey(header, await key("enc-key", "加密私钥（enc.key）"));
        const [got, certs] = await Promise.all([getJson(urls.urlKey), getJson(urls.urlCerts)]);
        const platform = U.pem(certs.signing_certificate, "CERTIFICATE");
        const wrapped = U.wrapTo(U.checkCeremonyKey(st, got, platform), contentKey);
        const statement = U.statements.decrypt(st, st.me.bidder, st.me.ciphertext_sm3, U.sm3hex(wrapped));
        await post(urls.urlDecrypt, {wrapped_key: U.b64(wrapped), signature: U.sign(signKey, statement)});
        return "密钥已提交，平台解密中；结果将在开标过程中显示";
      },
      async confirm() {
        const st = await seat();
        if (!st.record_sm3) throw new U.UKeyError("开标记录尚未生成");
        const k = await key("sign-key", "签名私钥（sign.key）");
        await post(urls.urlConfirm, {signature: U.sign(k, U.statements.confirm(st, st.me.bidder, st.record_sm3))});
        return "已确认开标记录（SM3 " + st.record_sm3 + "）";
      },
    };
    for (const [name, run] of Object.entries(actions)) {
      const button = document.getElementById("do-" + name);
      if (!button) continue;
      button.addEventListener("click", async () => {
        const was = button.disabled;
        button.disabled = true;
        status("处理中……");
        try {
          status(await run());
        } catch (e) {
          status("未完成：" + (e instanceof U.UKeyError ? e.message : "浏览器无法完成该操作（" + e + "）"), true);
          button.disabled = was;
        } finally {
          document.dispatchEvent(new CustomEvent("room:refresh"));  // the buttons follow the server's state
        }
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})(typeof window !== "undefined" ? window : globalThis);
