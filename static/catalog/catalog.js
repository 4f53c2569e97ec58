/* The catalogue's only script (the CSP allows no inline ones).
   - Copy buttons: <button class="copy" data-copy="text"> put the text on the clipboard,
     through navigator.clipboard when the page is a secure context, else a hidden textarea.
   - <select class="autosubmit"> submits its form when changed (chart metric pickers). */
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "copy-buffer";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function flash(button, label) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = label;
    button.classList.toggle("copied", label === "Copied");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("copied");
    }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) { return; }
    var text = button.getAttribute("data-copy") || "";
    copyText(text).then(
      function () { button.setAttribute("data-copied", text); flash(button, "Copied"); },
      function () { flash(button, "Copy failed"); }
    );
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select.autosubmit") && select.form) {
      select.form.submit();
    }
  });
})();
