/* hartrace explorer: a file over the upload limit is refused in the browser, before it is read or sent.
 *
 * The drop zone (dcc.Upload) reads a chosen file whole into memory and posts it as base64;
 * for a large file that is a frozen tab, then an HTTP 413 nobody sees. This checks the
 * file's size first and says what is wrong in the upload's notice (UPLOAD_ERROR of
 * hartrace/explorer/app/ids.py). The limit comes from the page's
 * <meta name="hartrace-max-upload-bytes">, written by the server; sizes are shown as
 * hartrace.explorer.uploads.size_text shows them.
 */
(function () {
  "use strict";

  function limit() {
    var meta = document.querySelector('meta[name="hartrace-max-upload-bytes"]');
    var bytes = meta ? Number(meta.getAttribute("content")) : NaN;
    return bytes > 0 ? bytes : null;
  }

  function sizeText(size) {
    if (size >= 1048576) {
      return Number((size / 1048576).toPrecision(3)) + " MB";
    }
    if (size >= 1024) {
      return Number((size / 1024).toPrecision(3)) + " KB";
    }
    return size + " bytes";
  }

  /* Says why, and returns true, when one of the files is over the limit. */
  function refused(files) {
    var max = limit();
    if (!max || !files) {
      return false;
    }
    for (var i = 0; i < files.length; i++) {
      if (files[i].size > max) {
        var message = files[i].name + ": too large (" + sizeText(files[i].size) + "; the limit is " +
          sizeText(max) + "): pick a smaller image";
        if (window.dash_clientside && window.dash_clientside.set_props) {
          window.dash_clientside.set_props("upload-error", { children: message, hidden: false });
        }
        return true;
      }
    }
    return false;
  }

  function inUpload(node) {
    return node instanceof Element && node.closest("#upload") !== null;
  }

  // Capture on the document runs before React's own listeners: a refused file never reaches the drop zone.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input instanceof HTMLInputElement && input.type === "file" && inUpload(input) && refused(input.files)) {
      event.stopPropagation();
      input.value = ""; // choosing the same file again is a new change, and a new message
    }
  }, true);

  // A dropped file is kept unread by the drop zone's max_size; this only says why.
  document.addEventListener("drop", function (event) {
    if (inUpload(event.target) && event.dataTransfer) {
      refused(event.dataTransfer.files);
    }
  }, true);
})();
