// restock's live sign-in page: shows the store's tab (frames from the
// DevTools screencast, over a WebSocket) and sends pointer, wheel, touch
// and keyboard input and pasted text back. Plain JavaScript, no framework.
//
// Coordinates: a frame shows the tab's viewport, meta.dw x meta.dh CSS
// pixels (below meta.top pixels of browser chrome, 0 when headless).
// Input.dispatchMouseEvent / dispatchTouchEvent take viewport CSS pixels,
// so a point on the shown image maps by the image's scale and meta.top
// alone. The scroll offsets and page scale (meta.sx, meta.sy, meta.ps)
// only matter for document coordinates, which no command here uses: the
// page shows them in the status line's title for whoever debugs.
(function () {
  'use strict';
  var body = document.body;
  if (body.getAttribute('data-state') !== 'open') return;
  var $ = function (id) { return document.getElementById(id); };
  var statusEl = $('status'), img = $('screen'), area = $('area'), keys = $('keys'), text = $('text');
  var FINAL = ['signed_in', 'failed', 'expired', 'idle', 'replaced', 'cancelled', 'moved'];
  var ws = null, meta = null, frames = 0, ended = false, retries = 0, lastWidth = 0;
  var touches = new Map();
  var SENTINEL = ' ';

  function setStatus(state, message) {
    statusEl.textContent = message;
    body.setAttribute('data-state', state);
  }

  function send(obj) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj));
  }

  function sendViewport() {
    var r = area.getBoundingClientRect();
    lastWidth = Math.floor(r.width);
    send({ t: 'viewport', w: Math.floor(r.width), h: Math.floor(r.height),
      dpr: window.devicePixelRatio || 1, touch: (navigator.maxTouchPoints || 0) > 0 });
  }

  var base = location.pathname.replace(/\/+$/, '');

  // Opening the page does not use the link (a chat app's preview may fetch
  // it); this claims it for this browser, then connects.
  function claim() {
    fetch(base + '/claim', { method: 'POST', credentials: 'same-origin' })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      })
      .then(function (res) {
        if (res.ok) { connect(); return; }
        ended = true;
        $('controls').classList.add('hidden');
        setStatus(res.body.state === 'used' ? 'refused' : res.body.state, res.body.error);
      })
      .catch(function () { setStatus('failed', 'cannot reach restock: reload this page'); });
  }

  function connect() {
    var path = base + '/ws';
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path);
    ws.onopen = function () { retries = 0; sendViewport(); };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.t === 'frame') {
        meta = m.m;
        img.src = 'data:image/jpeg;base64,' + m.d;
        frames += 1;
        img.setAttribute('data-frames', String(frames));
        img.setAttribute('data-device-width', String(meta.dw));
        img.setAttribute('data-device-height', String(meta.dh));
        statusEl.title = 'page scale ' + meta.ps + ', scrolled ' + meta.sx + ',' + meta.sy;
      } else if (m.t === 'status') {
        setStatus(m.state, m.text);
        if (FINAL.indexOf(m.state) >= 0) {
          ended = true;
          if (m.state !== 'signed_in') $('controls').classList.add('hidden');
        }
      }
    };
    ws.onclose = function () {
      if (ended) return;
      retries += 1;
      if (retries <= 5) {
        setStatus('reconnecting', 'connection lost; reconnecting…');
        setTimeout(connect, 1000 * retries);
      } else {
        setStatus('failed', 'connection lost: reload this page to go on');
      }
    };
  }

  // A point on the shown image, in the tab's viewport CSS pixels.
  function toView(clientX, clientY) {
    var r = img.getBoundingClientRect();
    if (!meta || !r.width || !meta.dw) return null;
    var zoom = r.width / meta.dw;
    return { x: (clientX - r.left) / zoom, y: (clientY - r.top) / zoom - (meta.top || 0) };
  }

  function mods(e) {
    return (e.altKey ? 1 : 0) | (e.ctrlKey ? 2 : 0) | (e.metaKey ? 4 : 0) | (e.shiftKey ? 8 : 0);
  }

  function button(b) { return b === 1 ? 'middle' : b === 2 ? 'right' : 'left'; }

  function sendTouch(kind) {
    var points = [];
    touches.forEach(function (p, id) { points.push({ x: p.x, y: p.y, id: id % 1000 }); });
    send({ t: 'touch', e: kind, p: kind === 'end' || kind === 'cancel' ? [] : points });
  }

  var lastMove = 0, mouseDown = false;
  img.addEventListener('pointerdown', function (e) {
    e.preventDefault();
    var p = toView(e.clientX, e.clientY);
    if (!p) return;
    try { img.setPointerCapture(e.pointerId); } catch (err) { /* not capturable */ }
    if (e.pointerType === 'touch') {
      touches.set(e.pointerId, p);
      sendTouch(touches.size === 1 ? 'start' : 'move');
    } else {
      mouseDown = true;
      send({ t: 'mouse', e: 'down', x: p.x, y: p.y, b: button(e.button), n: 1, m: mods(e) });
    }
  });
  img.addEventListener('pointermove', function (e) {
    var now = Date.now();
    if (now - lastMove < 30) return;
    lastMove = now;
    var p = toView(e.clientX, e.clientY);
    if (!p) return;
    if (e.pointerType === 'touch') {
      if (!touches.has(e.pointerId)) return;
      touches.set(e.pointerId, p);
      sendTouch('move');
    } else {
      send({ t: 'mouse', e: 'move', x: p.x, y: p.y, b: mouseDown ? 'left' : 'none', m: mods(e) });
    }
  });
  function pointerEnd(e, cancelled) {
    var p = toView(e.clientX, e.clientY);
    if (e.pointerType === 'touch') {
      if (!touches.has(e.pointerId)) return;
      touches.delete(e.pointerId);
      sendTouch(cancelled ? 'cancel' : touches.size ? 'move' : 'end');
    } else if (p) {
      mouseDown = false;
      send({ t: 'mouse', e: 'up', x: p.x, y: p.y, b: button(e.button), n: 1, m: mods(e) });
    }
    // After a tap the keyboard goes to the tab (a phone shows its keyboard).
    if (!cancelled) keys.focus({ preventScroll: true });
  }
  img.addEventListener('pointerup', function (e) { pointerEnd(e, false); });
  img.addEventListener('pointercancel', function (e) { pointerEnd(e, true); });
  img.addEventListener('contextmenu', function (e) { e.preventDefault(); });
  img.addEventListener('wheel', function (e) {
    e.preventDefault();
    var p = toView(e.clientX, e.clientY);
    if (!p) return;
    var unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? area.clientHeight : 1;
    send({ t: 'wheel', x: p.x, y: p.y, dx: e.deltaX * unit, dy: e.deltaY * unit });
  }, { passive: false });

  // Keyboard: a hidden textarea takes the keys (and a phone's keyboard).
  // Named keys and shortcuts go as key events; characters as text. Phones
  // compose words and send few key events, so what the textarea gained or
  // lost since the last look is what is sent (a sentinel space makes a
  // Backspace on an "empty" field visible).
  var NAMED = ['Enter', 'Backspace', 'Tab', 'Escape', 'Delete', 'ArrowLeft', 'ArrowUp',
    'ArrowRight', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'];
  var composing = false;
  function resetKeys() { keys.value = SENTINEL; keys.setSelectionRange(1, 1); }
  function flushKeys() {
    var v = keys.value;
    if (v.length === 0) send({ t: 'key', key: 'Backspace' });
    else {
      var added = v.indexOf(SENTINEL) === 0 ? v.slice(SENTINEL.length) : v;
      if (added) send({ t: 'text', text: added });
    }
    resetKeys();
  }
  resetKeys();
  keys.addEventListener('keydown', function (e) {
    if (composing || e.isComposing || e.keyCode === 229) return;
    var shortcut = e.ctrlKey || e.metaKey || e.altKey;
    if (shortcut && (e.key === 'v' || e.key === 'V')) return; // the paste below
    if (NAMED.indexOf(e.key) >= 0 || (shortcut && e.key.length === 1)) {
      e.preventDefault();
      send({ t: 'key', key: e.key, m: mods(e) });
    } else if (e.key.length === 1) {
      e.preventDefault();
      send({ t: 'text', text: e.key });
    }
  });
  keys.addEventListener('compositionstart', function () { composing = true; });
  keys.addEventListener('compositionend', function () { composing = false; flushKeys(); });
  keys.addEventListener('input', function (e) {
    if (composing || e.isComposing) return;
    if (e.inputType === 'insertLineBreak' || e.inputType === 'insertParagraph') {
      resetKeys();
      send({ t: 'key', key: 'Enter' });
      return;
    }
    flushKeys();
  });

  function sendText() {
    if (text.value) send({ t: 'text', text: text.value });
    text.value = '';
  }
  $('send').addEventListener('click', sendText);
  text.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { e.preventDefault(); sendText(); }
  });
  $('back').addEventListener('click', function () { send({ t: 'nav', to: 'back' }); });
  $('reload').addEventListener('click', function () { send({ t: 'nav', to: 'reload' }); });
  $('keyboard').addEventListener('click', function () { keys.focus({ preventScroll: true }); });

  // A new width (a phone turned) lays the tab out again; a height change
  // alone (a phone's keyboard opening) does not.
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      if (Math.floor(area.getBoundingClientRect().width) !== lastWidth) sendViewport();
    }, 300);
  });

  claim();
})();
