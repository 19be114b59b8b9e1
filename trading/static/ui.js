// The pages' shared behaviour, under the CSP (no inline script): a confirmation dialog before an
// irreversible act (forms with data-confirm), and hashes shortened with a button that copies the
// whole value. Pages work without it: a form without this script submits at once.
"use strict";
(function () {
  // Registered as the page starts to load (the script is in <head>, not deferred), so a click on a
  // button that is already drawn can never submit before the confirmation is in place.
  function confirmForms() {
    let pending = null;
    let dialog = null;
    function ready() {
      if (dialog) return dialog;
      dialog = document.getElementById("confirm-dialog");
      if (!dialog || typeof dialog.showModal !== "function") { dialog = null; return null; }
      dialog.addEventListener("close", function () {
        const p = pending;
        pending = null;
        if (!p || dialog.returnValue !== "ok") return;
        p.form.dataset.confirmed = "1";
        if (p.submitter) p.form.requestSubmit(p.submitter); else p.form.requestSubmit();
      });
      return dialog;
    }
    document.addEventListener("submit", function (event) {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
      if (form.dataset.confirmed === "1") { delete form.dataset.confirmed; return; }
      const d = ready();
      if (!d) return;  // a browser without <dialog>: the server's own checks still hold
      event.preventDefault();
      pending = { form: form, submitter: event.submitter || null };
      d.querySelector(".confirm-text").textContent = form.dataset.confirm;
      d.returnValue = "";
      d.showModal();
    }, true);
  }

  function copyText(value, button) {
    const done = function () { button.textContent = "已复制"; setTimeout(function () { button.textContent = "复制"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, function () { button.textContent = "请手动复制"; });
      return;
    }
    const area = document.createElement("textarea");
    area.value = value;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { button.textContent = "请手动复制"; }
    area.remove();
  }

  function hashes(root) {
    root.querySelectorAll("code.hash:not([data-ui])").forEach(function (code) {
      code.dataset.ui = "1";
      const value = code.textContent.trim();
      if (value.length <= 16) return;
      code.title = value;
      code.tabIndex = 0;
      code.addEventListener("click", function () { code.classList.toggle("open"); });
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "复制";
      button.setAttribute("aria-label", "复制完整值");
      button.addEventListener("click", function () { copyText(code.textContent.trim(), button); });
      code.after(button);
    });
  }

  confirmForms();
  function start() {
    hashes(document);
    // pages that redraw from live data (the rooms) add hashes later
    new MutationObserver(function () { hashes(document); }).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
