// snoozebot web UI: a little progressive enhancement. Every page works without it.
// - forms with data-confirm ask first, then tell the server it was confirmed;
// - a select with data-submit-on-change applies its form when a choice is made
//   (the form's own button does the same without script);
// - the instances table refreshes its rows every few seconds (faster while
//   an instance is changing state, slower while the provider fails), and
//   stops when the session ends.
"use strict";

document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) {
    return;
  }
  if (!window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  var confirmed = form.querySelector("input[name=confirmed]");
  if (!confirmed) {
    confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    form.appendChild(confirmed);
  }
  confirmed.value = "yes";
});

(function submitOnChange() {
  // A pointer's choice applies at once. Arrow keys change a closed select step by
  // step, so a keyboard choice applies on Enter, or when the focus leaves the field.
  var STEPS = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"];

  function target(event) {
    var field = event.target;
    return field instanceof HTMLSelectElement && field.hasAttribute("data-submit-on-change") && field.form
      ? field : null;
  }

  function changed(field) {
    return !field.options[field.selectedIndex].defaultSelected;
  }

  document.addEventListener("keydown", function (event) {
    var field = target(event);
    if (!field) {
      return;
    }
    if (STEPS.indexOf(event.key) >= 0) {
      field.dataset.stepping = "1";
    } else if (event.key === "Enter") {
      event.preventDefault();
      field.form.requestSubmit();
    }
  });
  document.addEventListener("change", function (event) {
    var field = target(event);
    if (field && !field.dataset.stepping) {
      field.form.requestSubmit();
    }
  });
  document.addEventListener("focusout", function (event) {
    var field = target(event);
    if (field && field.dataset.stepping && changed(field)) {
      field.form.requestSubmit();
    }
  });
})();

(function liveRows() {
  var rows = document.getElementById("rows");
  var live = document.getElementById("live");
  if (!rows || !rows.dataset.src) {
    return;
  }
  var FAST = 1500, SLOW = 5000, FAILING = 30000, TIMEOUT = 15000;

  function busy() {
    return rows.querySelector("tr[data-busy]") !== null;
  }

  function failing() {
    return rows.querySelector("tr.message .error") !== null;
  }

  function schedule() {
    window.setTimeout(refresh, failing() ? FAILING : busy() ? FAST : SLOW);
  }

  function stop(message) {
    if (live) {
      live.textContent = message;
    }
  }

  function refresh() {
    if (document.hidden || rows.contains(document.activeElement)) {
      schedule(); // never swap the rows under a keyboard user's focus
      return;
    }
    var controller = new AbortController();
    var abort = window.setTimeout(function () { controller.abort(); }, TIMEOUT);
    fetch(rows.dataset.src, { credentials: "same-origin", signal: controller.signal, redirect: "manual" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          throw new Error("session");
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        rows.innerHTML = html;  // server-rendered, escaped markup from this agent
        if (live) {
          live.textContent = "States refresh every few seconds. Last refresh: " + new Date().toLocaleTimeString() + ".";
        }
        schedule();
      })
      .catch(function (error) {
        if (error.message === "session") {
          stop("Live refresh stopped: your session ended. Reload the page to sign in again.");
        } else {
          stop("Live refresh failed (" + error.message + "); retrying.");
          schedule();
        }
      })
      .finally(function () { window.clearTimeout(abort); });
  }

  schedule();
})();
