/* Steve review UI: keyboard shortcuts, queue selection, the file viewer and evidence boxes.
   Everything is delegated from `document`, so it keeps working after htmx swaps.
   No inline handlers anywhere: the CSP forbids them. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const SELECTED_KEY = "steve.queue.selected";

  /* ---- Queue: a selected row that survives polling ---------------------------------- */
  function queueRows() { return $$("table[data-queue] tr.row"); }

  // Moved by the keyboard (j, k, past Load more), focus goes with the selection to the
  // row's link: a highlight alone was silent to a screen reader, and Tab went on from the
  // top of the page. Restoring the selection after a poll or Back moves no focus.
  function selectRow(row, scroll) {
    queueRows().forEach((r) => r.classList.toggle("selected", r === row));
    if (!row) return;
    sessionStorage.setItem(SELECTED_KEY, row.dataset.id);
    if (!scroll) return;
    row.scrollIntoView({ block: "nearest" });
    const link = $("th.sub a", row);
    if (link) link.focus({ preventScroll: true });
  }

  function restoreSelection() {
    const rows = queueRows();
    if (!rows.length) return;
    const id = sessionStorage.getItem(SELECTED_KEY);
    selectRow(rows.find((r) => r.dataset.id === id) || null, false);
  }

  // j on the last row shown loads the next rows (as Load more does) and goes on to the
  // first of them: it stopped at row 50 of a longer queue, which only the mouse could pass.
  let selectAfter = null;

  function loadMoreAndMove(rows) {
    const more = $("#load-more-row a");
    if (!more) return false;
    selectAfter = rows[rows.length - 1].dataset.id;
    more.click();
    return true;
  }

  function selectLoaded() {
    if (!selectAfter) return;
    const rows = queueRows();
    const last = rows.findIndex((r) => r.dataset.id === selectAfter);
    if (last < 0 || last === rows.length - 1) return;
    selectAfter = null;
    selectRow(rows[last + 1], true);
  }

  function moveSelection(step) {
    const rows = queueRows();
    if (!rows.length) return false;
    const current = rows.findIndex((r) => r.classList.contains("selected"));
    if (step > 0 && current === rows.length - 1 && loadMoreAndMove(rows)) return true;
    const next = current < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, current + step));
    selectRow(rows[next], true);
    return true;
  }

  function openSelected() {
    const row = $("table[data-queue] tr.row.selected");
    const link = row && $("a", row);
    if (link) link.click();
  }

  // Load more itself is replaced by the rows it loads: focus went with it to the page.
  // Pressed (Enter or a click), it goes on to the first of them, as j past the end does.
  document.addEventListener("click", (event) => {
    const more = event.target.closest("#load-more-row a");
    const rows = queueRows();
    if (more && rows.length && !selectAfter) selectAfter = rows[rows.length - 1].dataset.id;
  }, true);

  // A row the reviewer was on that the poll dropped (decided by someone else meanwhile):
  // focus goes to the row now in its place, not to the page.
  let pollFocusIndex = -1;
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!isPoll(event)) return;
    const active = document.activeElement;
    const row = active && active.closest ? active.closest("table[data-queue] tr.row") : null;
    pollFocusIndex = row ? queueRows().indexOf(row) : -1;
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (pollFocusIndex < 0) return;
    const index = pollFocusIndex;
    pollFocusIndex = -1;
    if (document.activeElement && document.activeElement !== document.body) return;
    const rows = queueRows();
    const row = rows[Math.min(index, rows.length - 1)];
    if (row) selectRow(row, true);
  });

  document.addEventListener("click", (event) => {
    const row = event.target.closest("table[data-queue] tr.row");
    if (row && !event.target.closest("a, button, input, select")) {
      selectRow(row, false);
      const link = $("a", row);
      if (link) link.click();
    }
  });

  // The poll re-reads every row already loaded (up to the last one shown), and skips
  // its turn while the tab is hidden.
  document.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    if (!elt.matches || !elt.matches("[data-queue-poll]")) return;
    // A hidden tab, or rows picked for bulk approve (a swap would drop the picks), skip a turn.
    if (document.hidden || $("input[name=pick]:checked")) { event.preventDefault(); return; }
    const rows = queueRows();
    // With where the page drew it in the age order: a row that left review since (or came
    // to it) moved in the All tab, and counting up to its new place dropped loaded rows.
    const last = rows[rows.length - 1];
    if (last) {
      event.detail.parameters.upto = last.dataset.id;
      if (last.dataset.at) event.detail.parameters.at = last.dataset.at;
    }
  });

  /* ---- File viewer: tabs, zoom, rotation ------------------------------------------------ */
  const view = { zoom: 1, rotation: 0 };

  function activeFile() { return $(".stage .file:not([hidden])"); }

  // A page image drawn (or failed) gives up the placeholder room steve.css keeps for it,
  // so that pages further down stay out of view, and unloaded, until scrolled to. Load
  // events do not bubble: caught on the way down. Pages drawn before this ran are marked
  // at once.
  function markPageDrawn(img) {
    if (img && img.matches && img.matches(".page img")) img.setAttribute("data-loaded", "");
  }
  ["load", "error"].forEach((name) => {
    document.addEventListener(name, (event) => markPageDrawn(event.target), true);
  });
  $$(".page img").filter((img) => img.complete && img.naturalWidth).forEach(markPageDrawn);

  // A document image that fails to load (a file withdrawn, or purged at the end of its
  // retention, while its page is open) showed as a broken image, its alt text alone. It
  // is replaced by a note saying why: the browser does not tell an image's status, so its
  // address is asked once more; only a 404 is the file gone. An address that answers now
  // is drawn again, once; anything else is a failed load. Without script the broken image
  // and its alt text remain.
  const DOCUMENT_IMAGES = ".page img, .compare-pages img, .fraud-panel img, .local-regions img";
  const IMAGE_GONE =
    "This page is no longer available (the file was withdrawn or its retention period ended).";
  const IMAGE_FAILED = "This page could not be loaded. Reload the page to try again.";
  // 422: the page is there but cannot be drawn (too slow or too large to draw, or its
  // file damaged); the server remembers it a while and answers at once.
  const IMAGE_NOT_DRAWN = "This page is not drawn here (too large or too slow to draw, or damaged).";

  function noteImage(img, text) {
    let note = img.nextElementSibling;
    if (!note || !note.matches(".image-failed")) {
      note = document.createElement("p");
      note.className = "image-failed muted small";
      img.after(note);
    }
    note.textContent = text;
    img.hidden = true;
  }

  // With its file's download, where the viewer links the file (the desk's "Open original").
  function noteNotDrawn(img) {
    noteImage(img, IMAGE_NOT_DRAWN);
    const original = img.closest(".file") && $("a[data-original]", img.closest(".file"));
    if (!original) return;
    const link = document.createElement("a");
    link.href = original.getAttribute("href");
    link.setAttribute("download", "");
    link.textContent = "Download the original";
    img.nextElementSibling.append(" ", link);
  }

  function imageFailed(img) {
    if (!img || !img.matches || !img.matches(DOCUMENT_IMAGES)) return;
    const src = img.getAttribute("src");
    if (!src) return;
    if (img.dataset.failed === src) return noteImage(img, IMAGE_FAILED); // failed again
    img.dataset.failed = src;
    fetch(src, { credentials: "same-origin", cache: "no-store" })
      .then((answer) => answer.status, () => 0)
      .then((status) => {
        if (img.getAttribute("src") !== src) return; // turned or swapped meanwhile
        if (status === 404) noteImage(img, IMAGE_GONE);
        else if (status === 422) noteNotDrawn(img);
        else if (status >= 200 && status < 300) img.src = src;
        else noteImage(img, IMAGE_FAILED);
      });
  }

  // One drawn after all (turned, or drawn again) takes its place back from the note.
  function imageDrawn(img) {
    if (!img || !img.matches || !img.matches(DOCUMENT_IMAGES) || !img.hidden) return;
    const note = img.nextElementSibling;
    if (note && note.matches(".image-failed")) note.remove();
    img.hidden = false;
  }
  document.addEventListener("error", (event) => imageFailed(event.target), true);
  document.addEventListener("load", (event) => imageDrawn(event.target), true);
  // Failed before this script ran (it is deferred): complete, with nothing drawn.
  $$(DOCUMENT_IMAGES)
    .filter((img) => img.complete && !img.naturalWidth && img.getAttribute("src"))
    .forEach(imageFailed);

  // Rotation asks the server for the page turned (a real image in the scroll area, so
  // nothing is clipped); the evidence boxes are turned with it.
  function pageSource(img) {
    if (!view.rotation || !img.dataset.rendered) return img.dataset.shown || img.getAttribute("src");
    // The address carries its version (?v=): the turn is one more parameter.
    const url = new URL(img.dataset.rendered, document.baseURI);
    url.searchParams.set("rotate", view.rotation);
    return url.pathname + url.search;
  }

  function applyView() {
    const file = activeFile();
    if (!file) return;
    $$(".page", file).forEach((page) => {
      const img = $("img", page);
      if (img && img.getAttribute("src") !== pageSource(img)) {
        delete img.dataset.fit;
        img.src = pageSource(img);
      }
      // Zoom is relative to the fitted width, measured before the first zoom step.
      if (img && view.zoom !== 1 && !img.dataset.fit) img.dataset.fit = img.clientWidth;
      if (img) img.style.width = view.zoom === 1 ? "" : img.dataset.fit * view.zoom + "px";
      if (img && view.zoom === 1) delete img.dataset.fit;
      page.classList.toggle("zoomed", view.zoom !== 1);
    });
    const active = $(".side tr.active");
    if (active) showEvidence(active, false);
  }

  function turnBox(box, rotation) {
    const [x0, y0, x1, y1] = box;
    if (rotation === 90) return [1 - y1, x0, 1 - y0, x1];
    if (rotation === 180) return [1 - x1, 1 - y1, 1 - x0, 1 - y0];
    if (rotation === 270) return [y0, 1 - x1, y1, 1 - x0];
    return box;
  }

  function showFile(index) {
    $$(".stage .file").forEach((f) => {
      f.classList.remove("js-hidden"); // the page's first layout; `hidden` decides from here
      f.hidden = f.dataset.file !== String(index);
    });
    $$("[data-file-tab]").forEach((t) => {
      const on = t.dataset.fileTab === String(index);
      t.classList.toggle("active", on);
      t.setAttribute("aria-pressed", on ? "true" : "false");
    });
    applyView();
  }

  function zoom(how) {
    if (how === "in") view.zoom = Math.min(4, view.zoom * 1.25);
    else if (how === "out") view.zoom = Math.max(0.5, view.zoom / 1.25);
    else { view.zoom = 1; view.rotation = 0; }
    applyView();
  }

  function rotate() { view.rotation = (view.rotation + 90) % 360; applyView(); }

  document.addEventListener("click", (event) => {
    const tab = event.target.closest("[data-file-tab]");
    if (tab) showFile(tab.dataset.fileTab);
    const z = event.target.closest("[data-zoom]");
    if (z) zoom(z.dataset.zoom);
    if (event.target.closest("[data-rotate]")) rotate();
    if (event.target.closest("[data-shortcuts-open]")) showShortcuts();
  });

  /* ---- Evidence: a field's box on the page it was read from ----------------------------- */
  function clearBoxes() {
    $$(".stage .box").forEach((b) => b.remove());
    $$(".side tr.active").forEach((r) => r.classList.remove("active"));
  }

  function showEvidence(row, scroll) {
    clearBoxes();
    let boxes = [];
    try { boxes = JSON.parse(row.dataset.evidence || "[]"); } catch (e) { boxes = []; }
    if (!boxes.length) return;
    row.classList.add("active");
    const first = boxes[0];
    if (activeFile() && activeFile().dataset.file !== String(first.file)) showFile(first.file);
    boxes.forEach((item, i) => {
      const page = $('.page[data-file="' + item.file + '"][data-page="' + item.page + '"]');
      if (!page) return;
      const [x0, y0, x1, y1] = turnBox(item.bbox, view.rotation);
      const box = document.createElement("div");
      box.className = "box";
      // CSSOM writes are allowed by the CSP (style attributes in markup are not).
      box.style.left = x0 * 100 + "%";
      box.style.top = y0 * 100 + "%";
      box.style.width = Math.max(0.5, (x1 - x0) * 100) + "%";
      box.style.height = Math.max(0.5, (y1 - y0) * 100) + "%";
      page.appendChild(box);
      if (scroll && i === 0) box.scrollIntoView({ block: "center", inline: "center", behavior: "smooth" });
    });
  }

  document.addEventListener("mouseover", (event) => {
    const row = event.target.closest(".side tr[data-evidence]");
    if (row && !row.classList.contains("active")) showEvidence(row, false);
  });
  document.addEventListener("focusin", (event) => {
    const row = event.target.closest(".side tr[data-evidence]");
    if (row) showEvidence(row, true);
    const match = event.target.closest(".match");
    if (match) focusMatch(match);
  });
  document.addEventListener("mouseout", (event) => {
    const row = event.target.closest(".side tr[data-evidence]");
    if (row && !row.contains(event.relatedTarget) && !row.contains(document.activeElement)) clearBoxes();
  });

  /* ---- Document text: a field's "read on page 1, line 4" goes to that line ------------ */
  // The text is a closed <details> (long documents): open it, mark the line and move focus
  // there, so a screen reader reads the line (and which fields were read on it) at once.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-read-at]");
    const target = link && document.getElementById(link.dataset.readAt);
    if (!target) return;
    event.preventDefault();
    const details = target.closest("details");
    if (details) details.open = true;
    $$(".doc-text .current").forEach((l) => l.classList.remove("current"));
    target.classList.add("current");
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "center" });
  });

  /* ---- Fraud matches: one is "focused" for f / c --------------------------------------- */
  function focusMatch(match) {
    $$(".match").forEach((m) => m.classList.toggle("focused", m === match));
  }

  function focusedMatch() {
    return $(".match.focused") || $(".match.unresolved") || null;
  }

  function moveMatch(step) {
    const matches = $$(".match");
    if (!matches.length) return;
    const current = matches.indexOf(focusedMatch());
    const next = matches[Math.min(matches.length - 1, Math.max(0, current + step))];
    focusMatch(next);
    next.scrollIntoView({ block: "nearest" });
  }

  function resolveFocused(resolution) {
    const match = focusedMatch();
    const button = match && $('[data-resolve="' + resolution + '"]', match);
    if (button) { focusMatch(match); button.click(); }
  }

  /* ---- A pressed button says it is busy; pressing it again sends nothing ----------------- */
  // On a slow server a button only faded a little, so a reviewer pressed again (Enter, a
  // double-click, the shortcut). htmx queued that press and sent it once the first answer
  // was in whenever the form was still on the page (a failure): a second save or decision
  // nobody meant. Until its answer is in, the button says what it is doing and is marked
  // unavailable (aria-disabled, not disabled: a disabled button loses focus), and a
  // submit of its form is dropped.
  const BUSY_TEXT = {
    approve: "Approving…", reject: "Rejecting…", cancel: "Cancelling…", comment: "Sending…",
    "start-review": "Starting…", "take-over": "Taking over…", "release-other": "Releasing…",
    "bulk-approve": "Approving…", "undo-resolution": "Undoing…", release: "Releasing…",
  };

  function pressedButton(form, config) {
    const event = config && config.triggeringEvent;
    const submitter = event && event.submitter;
    if (submitter && submitter.form === form) return submitter;
    return Array.from(form.elements || []).find((e) => e.type === "submit") || null;
  }

  function markBusy(form, button) {
    form.setAttribute("aria-busy", "true");
    if (!button || button.hasAttribute("data-busy")) return;
    button.setAttribute("data-busy", button.innerHTML);
    button.setAttribute("data-busy-disabled", button.getAttribute("aria-disabled") || "");
    button.textContent = BUSY_TEXT[button.dataset.action] || "Saving…";
    button.setAttribute("aria-disabled", "true");
  }

  function clearBusy(form) {
    form.removeAttribute("aria-busy");
    Array.from(form.elements || []).filter((b) => b.hasAttribute("data-busy")).forEach((button) => {
      button.innerHTML = button.getAttribute("data-busy");
      const disabled = button.getAttribute("data-busy-disabled");
      if (disabled) button.setAttribute("aria-disabled", disabled);
      else button.removeAttribute("aria-disabled");
      button.removeAttribute("data-busy");
      button.removeAttribute("data-busy-disabled");
    });
  }

  function sendingForm(event) {
    const config = event.detail.requestConfig || {};
    const elt = event.detail.elt;
    if ((config.verb || "get").toLowerCase() === "get" || !elt || elt.tagName !== "FORM") return null;
    return elt;
  }

  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = sendingForm(event);
    if (form) markBusy(form, pressedButton(form, event.detail.requestConfig));
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = sendingForm(event);
    if (form) clearBusy(form);
  });
  document.addEventListener("submit", (event) => {
    if (event.target.getAttribute("aria-busy") !== "true") return;
    event.preventDefault();
    event.stopImmediatePropagation(); // the unsaved-input question below is not asked either
  }, true);

  /* ---- Never lose work: unsaved input, failed requests ------------------------------------ */
  // The reasons too: they are in the side column, which every save redraws, and a reason
  // typed before saving a correction (or kept after a failed Reject) was wiped by it.
  // The common-reasons select too: a reason picked there was reset by a save elsewhere.
  // And a fraud pair's confirm reason: every save reloads the fraud panel, which wiped it.
  const EDITABLE = ".fields form.correct input[name=value], .line-items-form input, .comment-form textarea, "
    + ".reject-form textarea[name=reason], .reject-form select[name=preset], .cancel input[name=reason], "
    + ".confirm-fraud select[name=preset], .confirm-fraud input[name=reason]";

  // What the page was drawn with: a select has no defaultValue (undefined, never equal
  // to its value, so it read as always changed), its drawn choice is the option selected
  // in the HTML, else the first.
  // An input a refused decision kept (a reason put back by the server: data-drawn, the
  // value the page has without it) is unsaved input too: drawn with it, it read as
  // unchanged, so a save elsewhere redrew the column without it and leaving never asked.
  function drawnValue(input) {
    if (input.hasAttribute("data-drawn")) return input.dataset.drawn;
    if (input.tagName !== "SELECT") return input.defaultValue;
    const drawn = Array.from(input.options).find((o) => o.defaultSelected) || input.options[0];
    return drawn ? drawn.value : "";
  }

  function markDirty(input) {
    input.toggleAttribute("data-dirty", input.value !== drawnValue(input));
    const row = input.closest("tr");
    if (row) row.classList.toggle("unsaved", !!$("[data-dirty]", row));
  }

  function dirtyInputs() { return $$(EDITABLE).filter((i) => i.hasAttribute("data-dirty")); }

  function dirtyLabels() {
    const labels = dirtyInputs().map((input) => {
      if (input.dataset.unsavedLabel) return input.dataset.unsavedLabel;
      const label = input.closest(".line-items-form") ? null : $("label", input.closest("tr"));
      return label ? label.textContent.trim() : "Line items";
    });
    return Array.from(new Set(labels));
  }

  function markKept() { $$(EDITABLE).filter((i) => i.hasAttribute("data-drawn")).forEach(markDirty); }
  document.addEventListener("DOMContentLoaded", markKept);
  document.addEventListener("htmx:afterSwap", markKept);

  document.addEventListener("input", (event) => {
    if (event.target.matches && event.target.matches(EDITABLE)) markDirty(event.target);
  });
  // A select's pick fires change (input too, in current browsers; change everywhere).
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("select") && event.target.matches(EDITABLE)) markDirty(event.target);
  });

  function inputLabel(input) {
    if (input.dataset.unsavedLabel) return input.dataset.unsavedLabel;
    if (input.getAttribute("aria-label")) return input.getAttribute("aria-label");
    const label = input.id ? $('label[for="' + input.id + '"]') : null;
    return label ? label.textContent.trim() : input.name;
  }

  // The same submission's page coming back whole: a refused approve, reject or cancel
  // (Post/Redirect/Get, followed by the boosted form's request).
  function samePage(xhr) {
    try { return !!xhr && new URL(xhr.responseURL).pathname === location.pathname; }
    catch (e) { return false; }
  }

  // htmx sends an answer's events to the element that made the request (errors) and to
  // its target (beforeSwap). Once a swap has replaced them (a second save in flight when
  // the first answer replaced #side), those events no longer reach the document, so the
  // handlers below never saw the answer: a refusal was swapped into the detached column,
  // a failure showed no banner. Both pass them on while detached (attached, they bubble).
  const ANSWER_EVENTS = ["htmx:beforeSwap", "htmx:responseError", "htmx:sendError"];
  const answerHandlers = {};
  function onAnswer(name, handler) {
    (answerHandlers[name] = answerHandlers[name] || []).push(handler);
    document.addEventListener(name, handler);
  }
  const watched = new WeakSet();
  function passOnWhileDetached(node) {
    if (!node || !node.addEventListener || watched.has(node)) return;
    watched.add(node);
    ANSWER_EVENTS.forEach((name) => node.addEventListener(name, (e) => {
      if (e.target !== node || document.body.contains(node)) return;
      (answerHandlers[name] || []).forEach((handler) => handler(e));
    }));
  }
  document.addEventListener("htmx:beforeRequest", (event) => {
    passOnWhileDetached(event.detail.elt);
    passOnWhileDetached(event.detail.target);
  });

  // A 404 that brings its region back with the refusal (a fraud match that no longer
  // exists: the current panel and why) is swapped like a 409, not left to the banner.
  onAnswer("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (!xhr || xhr.status !== 404 || !/ data-refusal[ >]/.test(xhr.responseText || "")) return;
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  });

  // Two saves in flight at once (Enter in one field, then in the next, on a slow network):
  // the first answer replaces #side, so the second was swapped into the replaced,
  // detached column and its refusal ("changed since you opened it") never showed; the
  // field only stayed marked unsaved. An answer for a column that has been replaced goes
  // to the current one if it is the same submission's (the reviewer may have gone on to
  // the next one meanwhile: then it is dropped, as before), unless it is older than what
  // the page shows (an answer that overtook it already includes it).
  function answeredSide(html) {
    return new DOMParser().parseFromString(html || "", "text/html").getElementById("side");
  }

  onAnswer("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!event.detail.shouldSwap || !target || target.id !== "side" || document.body.contains(target)) return;
    const live = document.getElementById("side");
    const answered = answeredSide(event.detail.serverResponse);
    if (!live || !answered || answered.dataset.submission !== live.dataset.submission) return;
    if (Number(answered.dataset.version) < Number(live.dataset.version)) event.detail.shouldSwap = false;
    else event.detail.target = live;
  });

  // A swap of the side column (a save, a refusal, a refresh after a fraud decision), of
  // the fraud panel (its reload after every save, a decision in it), or of the whole page
  // after a refused decision, must not wipe what the reviewer typed elsewhere, nor the
  // value a refused save carried.
  // Only an answer that is swapped in: the drafts of one that is not (a 403, a 500) were
  // restored by the next swap anywhere (the fraud panel's), over what was typed since.
  // A fraud reason kept through a whole-page swap waits for the panel, which loads after.
  let drafts = null;
  const inPanel = (input) => !!input.closest("#fraud-panel");
  const panelShown = () => !!$("#fraud-panel [data-fraud-panel]");
  onAnswer("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    const xhr = event.detail.xhr;
    if (!event.detail.shouldSwap) return;
    if (target === document.body && !samePage(xhr)) drafts = null; // another page: left
    const swapped = target && (target.id === "side" || target.id === "fraud-panel"
      || (target === document.body && samePage(xhr)));
    if (!swapped) return;
    // Only the form that was sent has saved its inputs: a refresh of the whole side column
    // (after a fraud decision) is sent by #side itself and saved none of them.
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    const sent = elt && elt !== target && elt.closest ? elt.closest("form") : null;
    const saved = xhr && xhr.status < 300;
    const inSent = (input) => !!(sent && sent.contains && sent.contains(input));
    // A pair decided (False positive, Confirm fraud): its other form's reason went with it.
    const decided = saved && sent && sent.closest ? sent.closest("[data-pair]") : null;
    // A form replaced while its request was in flight (a second Enter before the first
    // answer came back) was sent for what is now the same field in the current column.
    const detached = sent && !document.body.contains(sent);
    const sentKeys = detached ? $$("input:not([type=hidden]), textarea", sent).map((i) => i.id || i.name) : [];
    const wasSent = (input) => inSent(input) || sentKeys.includes(input.id || input.name);
    // Only what the swap replaces: the rest of the page keeps its own inputs.
    const replaced = (input) => target === document.body || target.contains(input);
    drafts = (drafts || []).concat(dirtyInputs()
      .filter((input) => replaced(input) && !(saved && inSent(input)) && !(decided && decided.contains(input)))
      .map((input) => ({
        key: input.id || input.name, value: input.value, item: itemOf(input), label: inputLabel(input),
        token: formToken(input), panel: inPanel(input),
        // A draft the answer did not refuse keeps the version it was typed on: the column
        // coming back (a comment, another field's save, a fraud refresh) may be drawn after
        // someone else saved this field, and the draft, put back over their value, must
        // not overwrite it unseen. A refused one was told why: it goes on with the new one.
        // So does a reason or a comment (named: data-unsaved-label), which overwrites no
        // value: kept at the old version, Reject after the reviewer's own save was refused
        // as stale, saying they had corrected a field "in another tab or window".
        version: wasSent(input) || input.dataset.unsavedLabel ? null : formVersion(input),
      })));
  });

  document.addEventListener("htmx:afterSwap", () => {
    if (!drafts) return;
    let lost = false;
    const gone = [];
    const waiting = [];
    drafts.forEach((draft) => {
      const input = draft.item
        ? itemInput(draft.item)
        : document.getElementById(draft.key) || $('#side input[name="' + draft.key + '"]');
      if (input && input.matches(EDITABLE)) {
        input.value = draft.value;
        markDirty(input);
        keepFormToken(input, draft.token);
        keepFormVersion(input, draft.version);
      }
      else if (draft.panel && !panelShown()) waiting.push(draft);
      else if (draft.item && $("#side .line-items-form")) lost = true;
      // Its form is gone (another reviewer decided the submission): the text is shown, never dropped.
      else gone.push(draft);
    });
    drafts = waiting.length ? waiting : null;
    const said = gone.map((draft) => draft.label + ": \u201c" + draft.value + "\u201d").join("; ");
    if (gone.length && gone.every((draft) => draft.panel)) {
      // The submission is still there; the pair was resolved meanwhile (by someone else).
      showRequestError("The fraud pair you wrote a reason for was resolved meanwhile, so it was not saved and has no form to go back to: " + said + ". Copy it from here if you still need it.", "notice");
    } else if (gone.length) {
      showRequestError("This submission can no longer be edited here, so what you typed was not saved and has no field to go back to: " + said + ". Copy it from here if you still need it.", "notice");
    } else if (lost) {
      showRequestError("The line items changed while you edited them, so your unsaved line-item edits were not kept. Please make them again on the current rows.", "notice");
    }
  });

  // A comment sent whose answer was lost may be stored: the text it keeps goes on with its
  // form's one-time token, so sending it again after another save redrew the column is
  // still that comment, not a second one (submission_comment).
  function formToken(input) {
    const token = input.form ? input.form.querySelector("input[name=form_token]") : null;
    return token ? token.value : null;
  }

  function keepFormToken(input, value) {
    const token = input.form ? input.form.querySelector("input[name=form_token]") : null;
    if (token && value) token.value = value;
  }

  function formVersion(input) {
    const version = input.form ? input.form.querySelector("input[name=version]") : null;
    return version ? version.value : null;
  }

  function keepFormVersion(input, value) {
    const version = input.form ? input.form.querySelector("input[name=version]") : null;
    if (version && value) version.value = value;
  }

  // A line-item edit belongs to its item, not to its row number: if another reviewer
  // removed a row meanwhile, "amount-1" is the next item's amount. An item is known by the
  // values its row was drawn with (and which of its equals it is); an item that is gone
  // takes its edit with it, and the reviewer is told.
  function rowValues(row) { return $$("input", row).map((i) => i.defaultValue).join("\u0001"); }
  function itemRows() { return $$("#side .line-items-form tbody tr"); }

  function itemOf(input) {
    const row = input.closest(".line-items-form") && input.closest("tr");
    if (!row) return null;
    const values = rowValues(row);
    const same = itemRows().filter((r) => rowValues(r) === values);
    return { values, nth: same.indexOf(row), field: input.name.replace(/-\d+$/, "") };
  }

  function itemInput(item) {
    const row = itemRows().filter((r) => rowValues(r) === item.values)[item.nth];
    return row ? $$("input", row).find((i) => i.name.replace(/-\d+$/, "") === item.field) : null;
  }

  // A sign-in rotates the CSRF token, so a page drawn before the reviewer signed in again
  // (in another tab, as the banner below asks) is refused; the 403 brings the current
  // token (steve.accounts.csrf_failure) and every form of the page takes it. The server
  // hands it over only while the page's own user (or nobody) is signed in: after someone
  // else signed in, the refusal says who and carries no token.
  function renewCsrfToken(event) {
    const xhr = event.detail.xhr;
    const token = xhr && xhr.status === 403 ? xhr.getResponseHeader("X-CSRF-Token") : null;
    if (!token) return false;
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    headers["X-CSRFToken"] = token;
    document.body.setAttribute("hx-headers", JSON.stringify(headers));
    $$("input[name=csrfmiddlewaretoken]").forEach((input) => { input.value = token; });
    return true;
  }

  // The save or decision refused for the old token is then sent again, once, with the new
  // one: one press saves what was typed. The retry carries RETRY_HEADER, so a retry that is
  // refused again (the token rotated once more meanwhile) is shown, never sent a third time.
  const RETRY_HEADER = "X-CSRF-Retry";
  function retryWithRenewedToken(event) {
    const config = event.detail.requestConfig || {};
    const verb = (config.verb || "get").toLowerCase();
    const elt = config.elt;
    if (verb === "get" || (config.headers || {})[RETRY_HEADER]) return false;
    if (!elt || !document.body.contains(elt) || !window.htmx) return false;
    const headers = {};
    headers[RETRY_HEADER] = "1";
    // After htmx has finished with the refused request (the element is free again). The
    // same element, so the same form values, target, swap and (boosted) history push.
    window.setTimeout(() => {
      const retry = window.htmx.ajax(verb, config.path, { source: elt, event: config.triggeringEvent, headers });
      if (retry && retry.catch) retry.catch(() => {}); // a failure shows its own banner
    }, 0);
    return true;
  }

  function requestError(event, renewed) {
    const config = event.detail.requestConfig || {};
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    const saving = (config.verb || "get").toLowerCase() !== "get";
    const what = saving ? "Nothing was saved or decided." : "The page could not be loaded.";
    const kept = dirtyInputs().length ? " What you typed is still on the page, marked unsaved." : "";
    // No answer, or a server error (5xx), is not "nothing happened": the request may have
    // been done and only its answer lost or failed (a proxy timing out after the commit).
    // A repeat is safe: a stale correction or decision is refused, a comment's form sent
    // again is the same comment.
    const safe = saving ? " Trying again is safe: nothing is saved or decided twice." : "";
    if (event.type === "htmx:sendError" || !status) {
      const unknown = saving
        ? "Its answer did not arrive, so this page cannot tell whether your change was saved."
        : what;
      return "Steve cannot be reached right now. " + unknown + kept + safe + " Please try again when you are back online.";
    }
    if (renewed) {
      return "This page was opened before you signed in again, so Steve refused it (403). " + what + kept + " The page now goes with your new sign-in: Try again.";
    }
    if (status === 401) {
      return "Your sign-in may have expired (401). " + what + kept + " Sign in again in a new tab, then retry.";
    }
    if (status === 403) {
      // Not a CSRF failure (that one renews the token above): the role does not allow it,
      // e.g. it was lowered meanwhile. The server's not-allowed page says why.
      return "Not allowed (403): " + refusalReason(event.detail.xhr) + " " + what + kept;
    }
    if (status >= 500 && saving) {
      return "Sorry, Steve answered with an error (" + status + "), so this page cannot tell whether your change was saved." + kept + safe + " Please try again.";
    }
    return "Sorry, Steve answered with an error (" + status + "). " + what + kept + " Please try again.";
  }

  // The reason a 403 page gives ([data-refusal-reason] in accounts/not_allowed.html).
  function refusalReason(xhr) {
    const html = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    const reason = html.querySelector("[data-refusal-reason]");
    return reason ? reason.textContent.trim() : "Your role here does not allow this action.";
  }

  function showRequestError(text, source) {
    const box = $("#request-error");
    if (!box) return;
    $("[data-request-error-text]", box).textContent = text;
    box.dataset.source = source;
    box.hidden = false;
  }

  // A failure's banner goes with the next success; a notice about what a swap could not
  // keep (source "notice") stays until it is dismissed: the request that brought it, and
  // the refreshes it triggers, succeed right after.
  function hideRequestError(sources) {
    const box = $("#request-error");
    if (box && (!sources || sources.includes(box.dataset.source))) box.hidden = true;
  }

  function isPoll(event) {
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    return !!(elt && elt.matches && elt.matches("[data-queue-poll]"));
  }

  /* ---- The fraud panel: loaded again by itself after a failed load ---------------------- */
  // The panel loads once the page is open and after each change; a load that failed (the
  // server unreachable, an error) left its banner and the panel unloaded until the next
  // save. It says so above the panel with a Retry (a real link: the panel as a page), and
  // loads again when the browser is back online and, while the failure is the network's or
  // the server's, after a growing pause.
  const PANEL_RETRY_MS = [3000, 6000, 12000, 30000];
  const panelRetry = { timer: null, attempt: 0 };

  function panelFailedNote() { return $("[data-panel-failed]"); }

  function isPanelLoad(event) {
    const config = event.detail.requestConfig || {};
    const panel = document.getElementById("fraud-panel");
    return !!panel && config.elt === panel && (config.verb || "get").toLowerCase() === "get";
  }

  function stopPanelRetry() {
    window.clearTimeout(panelRetry.timer);
    panelRetry.timer = null;
  }

  function retryPanel() {
    stopPanelRetry();
    const panel = document.getElementById("fraud-panel");
    const note = panelFailedNote();
    if (panel && note && !note.hidden && window.htmx) window.htmx.trigger(panel, "panel-retry");
  }

  function panelFailed(event) {
    const note = panelFailedNote();
    if (!note) return;
    note.hidden = false;
    stopPanelRetry();
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (event.type !== "htmx:sendError" && status && status < 500) return; // not the network's
    const delay = PANEL_RETRY_MS[Math.min(panelRetry.attempt, PANEL_RETRY_MS.length - 1)];
    panelRetry.attempt += 1;
    panelRetry.timer = window.setTimeout(retryPanel, delay);
  }

  function panelLoaded() {
    const note = panelFailedNote();
    if (note) note.hidden = true;
    stopPanelRetry();
    panelRetry.attempt = 0;
  }

  window.addEventListener("online", retryPanel);
  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-panel-retry]") || !window.htmx) return;
    event.preventDefault();
    retryPanel();
  });
  // Another page (a boosted navigation) has its own panel: this one's retries stop.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target === document.body) { stopPanelRetry(); panelRetry.attempt = 0; }
  });

  // A request the server answers with HX-Redirect is one whose sign-in ended
  // (accounts._htmx_login_redirect): a poll, or the fraud panel loading by itself. htmx
  // then sent the whole page to the login form, and with unsaved input the browser's own
  // "Leave site?" prompt was all that stood between the reviewer and losing it. With
  // unsaved input the page stays and says why, as a save refused with 401 does.
  document.addEventListener("htmx:beforeOnLoad", (event) => {
    const xhr = event.detail.xhr;
    if (!xhr || !xhr.getResponseHeader("HX-Redirect") || !dirtyInputs().length) return;
    event.preventDefault();
    if (isPanelLoad(event)) panelFailed(event);
    showRequestError(
      "Your sign-in has expired, so this page could not be loaded. What you typed is still on the page, marked unsaved. Sign in again in a new tab, then save it.",
      isPoll(event) ? "poll" : "action",
    );
  });

  ["htmx:sendError", "htmx:responseError"].forEach((name) => {
    onAnswer(name, (event) => {
      const renewed = renewCsrfToken(event);
      if (renewed && retryWithRenewedToken(event)) return;
      if (isPanelLoad(event)) panelFailed(event);
      showRequestError(requestError(event, renewed), isPoll(event) ? "poll" : "action");
    });
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    if (!event.detail.successful) return;
    if (isPanelLoad(event)) panelLoaded();
    hideRequestError(isPoll(event) ? ["poll"] : ["poll", "action"]);
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-request-error-close]")) hideRequestError(null);
  });

  // Approving (or leaving the page) with an unsaved correction asks first. Capturing at the
  // document runs before htmx's own submit handler on the boosted form.
  let unsavedProceed = null;
  const UNSAVED_TEXT = {
    approve: ["Approving now approves the stored values without your change.", "Approve without them"],
    leave: ["Leaving this page drops your change.", "Leave without saving"],
  };
  // The dialog says what is unsaved: it was titled "Unsaved corrections" for a reason or
  // a comment too, and said approving would approve "without your change" to a value.
  function unsavedTitle() {
    const inputs = dirtyInputs();
    const named = inputs.filter((input) => input.dataset.unsavedLabel);
    if (!named.length) return "Unsaved corrections";
    const labels = Array.from(new Set(named.map((input) => input.dataset.unsavedLabel)));
    if (named.length === inputs.length && labels.length === 1) return "Unsaved " + labels[0].toLowerCase();
    return "Unsaved changes";
  }

  function askUnsaved(proceed, action) {
    const dialog = $("#unsaved-dialog");
    if (!dialog) { proceed(); return; }
    let [consequence, button] = UNSAVED_TEXT[action || "approve"];
    const correcting = dirtyInputs().some((input) => !input.dataset.unsavedLabel);
    if ((action || "approve") === "approve" && !correcting) {
      [consequence, button] = ["Approving now drops what you typed.", "Approve anyway"];
    }
    $("#unsaved-title", dialog).textContent = unsavedTitle();
    $("[data-unsaved-fields]", dialog).textContent = dirtyLabels().join(", ");
    $("[data-unsaved-consequence]", dialog).textContent = consequence;
    $("[data-unsaved=approve]", dialog).textContent = button;
    unsavedProceed = proceed;
    dialog.showModal();
    $("[data-unsaved=back]", dialog).focus();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches(".approve-form") || !dirtyInputs().length) return;
    if (form.dataset.confirmed) { delete form.dataset.confirmed; return; }
    event.preventDefault();
    event.stopPropagation();
    askUnsaved(() => { form.dataset.confirmed = "1"; form.requestSubmit(); }, "approve");
  }, true);

  // Going to another page (j, k, a link) with unsaved input asks first too. A link that
  // loads into a part of this page (the fraud panel's Show more) leaves nothing: what was
  // typed there is kept across its swap, and the dialog said "Leaving this page".
  document.addEventListener("htmx:confirm", (event) => {
    const elt = event.detail.elt;
    if (!elt || !elt.matches || !elt.matches("a[href]") || !dirtyInputs().length) return;
    if (event.detail.target && event.detail.target !== document.body) return;
    event.preventDefault();
    askUnsaved(() => event.detail.issueRequest(true), "leave");
  });
  // The browser's Back (or Forward) with unsaved input: htmx swapped the other page in
  // at once (boosted pages are restored from the server) and the text was gone without a
  // word. It asks first, as a link does: staying puts this page's address back; leaving
  // goes back again, this time through.
  let shownPath = location.pathname + location.search;
  let leavingThroughHistory = false;
  ["htmx:pushedIntoHistory", "htmx:replacedInHistory"].forEach((name) => {
    document.addEventListener(name, (event) => { shownPath = event.detail.path || shownPath; });
  });
  // The page gone back (or forward) to is loaded as a page, not swapped in by htmx: with
  // the server unreachable htmx left this page, its Approve live, under the other page's
  // address without a word, and a sign-in that had ended brought a blank page (htmx swaps
  // in the empty answer that sends its requests to the login form). A page load shows
  // the browser's own "cannot be reached", or the login form that leads back to it.
  document.addEventListener("htmx:historyCacheMiss", (event) => {
    event.preventDefault();
    if (leavingThroughHistory || !dirtyInputs().length) { location.reload(); return; }
    history.pushState({ htmx: true }, "", shownPath);
    askUnsaved(() => { leavingThroughHistory = true; history.back(); }, "leave");
  });
  window.addEventListener("beforeunload", (event) => {
    // Leaving through the history was asked about already: not a second time.
    if (!leavingThroughHistory && dirtyInputs().length) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    const choice = event.target.closest("[data-unsaved]");
    if (!choice) return;
    const dialog = $("#unsaved-dialog");
    dialog.close();
    const proceed = unsavedProceed;
    unsavedProceed = null;
    if (choice.dataset.unsaved === "approve" && proceed) { proceed(); return; }
    const first = dirtyInputs()[0];
    if (first) first.focus();
  });

  // Focus after the side column (or, for a refused decision, the page) was swapped: it
  // stays where the reviewer was, so the next key is a shortcut and Tab goes on from there.
  // Enter saved a correction: focus goes to that field's Save button, not the field (htmx
  // puts it back into the same field during the swap), in the same task as the swap, so a
  // key pressed as soon as the saved value shows is never typed into the field. A claim,
  // release or comment lost focus with its replaced button, and a refused decision with
  // the page: Tab then started again at the top of the page (the brand, the file viewer).
  const REVIEW_FORMS = "form.correct, .line-items-form, .comment-form";

  function sentFieldName(form) {
    const field = $("input[name=field]", form);
    return field ? field.value : null;
  }

  // The new page's counterpart of the form that was sent: its submit button.
  function counterpartButton(sent) {
    let form = null;
    if (sent.matches("form.correct")) {
      const name = sentFieldName(sent);
      form = $$("#side form.correct").find((f) => sentFieldName(f) === name) || null;
    } else if (sent.matches(".line-items-form")) form = $("#side .line-items-form");
    else if (sent.matches(".comment-form")) form = $("#side .comment-form");
    else if (sent.closest("[data-claim]")) return $("#side [data-claim] button");
    return form ? $("button[type=submit]", form) : null;
  }

  // A refused line-items save: the input its refusal names (row 2's quantity, marked
  // invalid and described by it), not Save line items, so the fix is typed where it goes.
  function refusedInput(sent, ok) {
    if (ok || !sent || !sent.matches || !sent.matches(".line-items-form")) return null;
    return $('#side .line-items-form input[aria-invalid="true"]');
  }

  function restingPlace(sent, ok) {
    const invalid = refusedInput(sent, ok);
    if (invalid) return invalid;
    const button = sent && sent.matches ? counterpartButton(sent) : null;
    if (button && !button.disabled) return button;
    const refusal = ok ? null : $("[data-refusal]");
    if (refusal) refusal.setAttribute("tabindex", "-1");
    return refusal;
  }

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    const xhr = event.detail.xhr;
    const whole = target === document.body && samePage(xhr);
    if (!target || !(target.id === "side" || whole)) return;
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    const sent = elt && elt.closest ? elt.closest("form") : null;
    // A refused decision comes back as the page (a 200 after the redirect) with its refusal.
    const ok = !!xhr && xhr.status < 300 && !$("[data-refusal]");
    const active = document.activeElement;
    const lost = !active || active === document.body || !document.body.contains(active);
    const saved = ok && sent && sent.matches(REVIEW_FORMS);
    if (!lost && !saved) return; // e.g. a refused correction: htmx kept the field focused
    const place = restingPlace(sent, ok);
    if (place) place.focus({ preventScroll: !!saved });
    // Not focusable (a field's Save shows only while its row has focus): out of the field.
    if (saved && document.activeElement !== place && active && active.blur) active.blur();
  });

  // A decision in the fraud panel (False positive, Confirm fraud, Undo) replaces the panel,
  // and focus fell to the page: Tab started again at the top, f and c acted on no card the
  // reviewer could see. It goes to the next pair still to decide (its first button: the
  // panel lists them first), else to the decided pair's summary (its result and Undo), and
  // to the refusal when there is one. Focus the reviewer moved elsewhere meanwhile stays.
  function panelRestingPlace(pairKey) {
    const refusal = $("#fraud-panel [data-refusal]");
    if (refusal) { refusal.setAttribute("tabindex", "-1"); return refusal; }
    const next = $("#fraud-panel .pair-card.unresolved .resolve button");
    if (next) return next;
    const decided = $$("#fraud-panel .pair-card").find((card) => card.dataset.pair === pairKey);
    if (decided) return $("summary", decided);
    const title = $("#fraud-title");
    if (title) title.setAttribute("tabindex", "-1");
    return title;
  }

  // The panel reloads itself after every desk answer (submission-changed): a reviewer who
  // had tabbed to a pair's button lost focus with the old button, and Enter did nothing.
  // The same button of the same pair takes it back.
  let heldInPanel = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || target.id !== "fraud-panel") return;
    const active = document.activeElement;
    const card = active && target.contains(active) ? active.closest("[data-pair]") : null;
    heldInPanel = card && active.dataset.resolve
      ? { pair: card.dataset.pair, resolve: active.dataset.resolve } : null;
  });

  function refocusHeld() {
    const held = heldInPanel;
    heldInPanel = null;
    if (!held) return;
    const card = $$("#fraud-panel [data-pair]").find((c) => c.dataset.pair === held.pair);
    const button = card && $$("[data-resolve]", card).find((b) => b.dataset.resolve === held.resolve);
    if (button) button.focus();
  }

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (!target || target.id !== "fraud-panel") return;
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    const card = elt && elt.closest ? elt.closest("[data-pair]") : null;
    const active = document.activeElement;
    const lost = !active || active === document.body || !document.body.contains(active);
    if (!card) { // the panel's own load or refresh: no decision was made in it
      if (lost) refocusHeld();
      return;
    }
    heldInPanel = null;
    if (!lost) return;
    const place = panelRestingPlace(card.dataset.pair);
    if (place) place.focus();
  });

  // A boosted page change (a link, j/k, a decision going on to the next submission) swaps
  // the whole body, and focus fell to the page: a screen reader said nothing of the new
  // page, neither "… approved." nor which submission opened. It goes to the page's message
  // when there is one, else to its heading; Tab goes on from there. Focus that a handler
  // above placed (a refused decision's refusal) or that htmx kept by id (a queue tab) stays.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== document.body) return;
    const active = document.activeElement;
    if (active && active !== document.body && document.body.contains(active)) return;
    const place = $("body > .messages:not(:empty)") || $("main h1");
    if (!place) return;
    place.setAttribute("tabindex", "-1");
    place.focus();
  });

  /* ---- Fields that need attention ------------------------------------------------------- */
  let lastAttention = null;
  function nextAttentionField() {
    const rows = $$(".fields tr.field");
    const wanted = rows.filter((r) => r.matches(".low, .flagged, .unsaved") && $("input[name=value]", r));
    if (!wanted.length) return;
    const after = rows.findIndex((r) => r.dataset.field === lastAttention);
    const row = wanted.find((r) => rows.indexOf(r) > after) || wanted[0];
    lastAttention = row.dataset.field;
    const input = $("input[name=value]", row);
    input.focus();
    input.select();
  }

  /* ---- Keyboard ------------------------------------------------------------------------- */
  function showShortcuts() {
    const dialog = $("#shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function clickIfEnabled(selector) {
    const el = $(selector);
    if (el && !el.disabled) { el.click(); return true; }
    return false;
  }

  const keys = {
    j: () => moveSelection(1) || clickIfEnabled("[data-nav=next]"),
    k: () => moveSelection(-1) || clickIfEnabled("[data-nav=prev]"),
    Enter: () => openSelected(),
    o: () => (activeFile() ? rotate() : openSelected()),
    a: () => clickIfEnabled("[data-action=approve]"),
    s: () => clickIfEnabled("[data-action=start-review]"),
    e: () => nextAttentionField(),
    r: () => { const el = $("#reject-preset"); if (el) el.focus(); },
    f: () => resolveFocused("false_positive"),
    // Confirming fraud asks why: c opens the focused pair's reason, it never decides alone.
    c: () => {
      const match = focusedMatch();
      const reason = match && $("[data-fraud-reason]", match);
      if (reason) { focusMatch(match); match.open = true; reason.focus(); }
    },
    n: () => moveMatch(1),
    p: () => moveMatch(-1),
    "+": () => zoom("in"),
    "=": () => zoom("in"),
    "-": () => zoom("out"),
    0: () => zoom("reset"),
    "/": () => { const el = $("#id_q"); if (el) { el.focus(); el.select(); } },
    "?": () => showShortcuts(),
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const target = event.target;
    if (event.key === "Enter" && target.matches && target.matches("[data-fraud-reason]") && target.value) {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (target.closest && target.closest("input, textarea, select, [contenteditable], dialog[open]")) {
      if (event.key === "Escape" && target.blur) target.blur();
      return;
    }
    const action = keys[event.key];
    if (!action) return;
    // Enter on a control is the control's own: a <summary> too (Cancel submission…, the
    // document's text, a pair card), which the queue's "open the row" swallowed, unopened.
    if (event.key === "Enter" && target.closest && target.closest("a, button, summary")) return;
    event.preventDefault();
    action();
  });

  /* ---- Small conveniences ---------------------------------------------------------------- */
  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-autosubmit]");
    if (form) form.requestSubmit();
  });

  // The page shows every file (without script there are no tabs to switch them); here one
  // at a time, the active tab's.
  function showActiveFile() {
    const tab = $("[data-file-tab].active") || $("[data-file-tab]");
    if (tab) showFile(tab.dataset.fileTab);
  }

  function init() { restoreSelection(); showActiveFile(); applyView(); }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", (event) => {
    // A boosted navigation replaced the page: the new files start unzoomed.
    if (event.detail.target === document.body) {
      view.zoom = 1; view.rotation = 0; lastAttention = null;
      showActiveFile();
    }
    restoreSelection();
    selectLoaded();
  });
  // A failed load moves nothing later (its banner says why).
  ["htmx:sendError", "htmx:responseError"].forEach((name) => {
    document.addEventListener(name, (event) => {
      if (event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("#load-more-row")) selectAfter = null;
    });
  });
})();
