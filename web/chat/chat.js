// switchboard chat: one WebSocket (/ws, JSON frames, see docs/web.md),
// rooms with members and join/part events, private messages, and a
// reconnect loop that says what it is doing. No framework, no build step.
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var MAX_LINES = 500;
  var store = window.sessionStorage; // per tab: two tabs, two people

  var state = {
    ws: null,
    nick: '',
    wantNick: load('sb.nick', ''),
    rooms: new Map(),          // room -> {lines: [], unread: 0, members: []}
    current: '',
    retry: 0,
    everOnline: false,
    reconnectTimer: 0,
    countdownTimer: 0,
    whoAsked: {},              // room -> answers to /who the user typed and awaits
    pos: {},                   // room -> {epoch, seq}: the last message shown, to resume from
  };
  var token = new URLSearchParams(location.search).get('token');

  function load(key, def) {
    try { var v = store.getItem(key); return v === null ? def : JSON.parse(v); } catch (e) { return def; }
  }
  function save(key, v) {
    try { store.setItem(key, JSON.stringify(v)); } catch (e) { /* private mode */ }
  }

  // ---- connection -------------------------------------------------------

  function wsURL() {
    var u = new URL('/ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) u.searchParams.set('token', token);
    return u.toString();
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.countdownTimer);
    setStatus('connecting', 'connecting…');
    var ws;
    try { ws = new WebSocket(wsURL()); } catch (e) { scheduleReconnect(); return; }
    state.ws = ws;
    ws.onopen = function () {
      state.retry = 0;
      setStatus('online', 'online');
      if (state.everOnline) {
        banner('Reconnected.', true);
        setTimeout(function () { if (state.ws === ws && ws.readyState === 1) hideBanner(); }, 3000);
      } else {
        hideBanner();
      }
      state.everOnline = true;
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      handle(f);
    };
    ws.onclose = function (ev) {
      if (state.ws !== ws) return;
      state.ws = null;
      var why = ev.reason ? ' (' + ev.reason + ')' : '';
      setStatus('offline', 'offline');
      scheduleReconnect(why);
    };
  }

  function scheduleReconnect(why) {
    var delay = Math.min(10000, 500 * Math.pow(2, state.retry)) + Math.floor(Math.random() * 300);
    state.retry++;
    var until = Date.now() + delay;
    var tick = function () {
      var s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      banner('Connection lost' + (why || '') + ' — reconnecting in ' + s + ' s…', false);
    };
    tick();
    state.countdownTimer = setInterval(tick, 500);
    state.reconnectTimer = setTimeout(function () {
      clearInterval(state.countdownTimer);
      banner('Reconnecting…', false);
      connect();
    }, delay);
  }

  function send(frame) {
    if (!state.ws || state.ws.readyState !== 1) {
      system('error', 'not connected; your message was not sent');
      return false;
    }
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  // ---- frames from the server -------------------------------------------

  function handle(f) {
    switch (f.op) {
      case 'msg': return onMessage(f);
      case 'private': return onPrivate(f);
      case 'event': return onEvent(f);
      case 'info': return onInfo(f);
      case 'error': return onError(f);
      case 'gap': return addLine(state.rooms.has(f.topic) ? f.topic : state.current, { cls: 'error', text: f.text, ts: Date.now() });
    }
  }

  // joinRoom joins a room and asks for what it missed: the recent
  // history the first time, everything after the last message shown
  // after a reconnect (docs/history.md). The server merges the replay with
  // live messages, so each is shown once.
  function joinRoom(room) {
    var p = state.pos[room];
    return send({ op: 'join', room: room, since: p ? p.seq + '@' + p.epoch : 'all' });
  }

  function onWelcome(f) {
    state.nick = f.nick;
    $('nick-input').value = state.nick;
    if (state.wantNick && state.wantNick !== state.nick) {
      send({ op: 'nick', nick: state.wantNick });
    } else if (!state.everNamed) {
      state.everNamed = true;
      state.hint = 'You are ' + f.nick + '. Pick a nick: type it in the box at the top and press Enter.';
    }
    // A new connection: the member lists are stale until each room's
    // first who answer on it.
    state.rooms.forEach(function (r) { r.listed = false; });
    var rooms = state.rooms.size ? Array.from(state.rooms.keys()) : load('sb.rooms', ['lobby']);
    if (!rooms.length) rooms = ['lobby'];
    var cur = state.current || load('sb.current', rooms[0]);
    rooms.forEach(function (r) { if (r !== cur) joinRoom(r); });
    if (rooms.indexOf(cur) >= 0 || !state.current) joinRoom(cur);
  }

  function onInfo(f) {
    if (!f.re && f.nick && !f.final) return onWelcome(f);
    switch (f.re) {
      case 'join':
        ensureRoom(f.room);
        switchRoom(f.room);
        if (state.hint) {
          system('info', state.hint);
          state.hint = '';
        }
        // The member list is asked for once per room and connection;
        // join and part events keep it up to date afterwards.
        var joined = state.rooms.get(f.room);
        if (!joined.listed) {
          joined.listed = true;
          send({ op: 'who', room: f.room });
        }
        return;
      case 'who':
        if (state.rooms.has(f.room)) {
          var r = state.rooms.get(f.room);
          r.members = (f.members || []).slice();
          r.more = f.more || 0;
          if (f.room === state.current) renderMembers();
        }
        // The answer to a /who the user typed is shown; the ones the page
        // asks for itself (after a join) only refresh the member list.
        if (state.whoAsked[f.room] > 0) {
          state.whoAsked[f.room]--;
          system('info', whoText(f));
        } else if (!state.rooms.has(f.room)) {
          system('info', whoText(f));
        }
        return;
      case 'rooms':
        system('info', roomsText(f));
        return;
      case 'part':
        dropRoom(f.room);
        return;
      case 'nick':
        var old = state.nick;
        state.nick = f.nick;
        state.wantNick = f.nick;
        save('sb.nick', f.nick);
        $('nick-input').value = f.nick;
        state.rooms.forEach(function (r) { rename(r.members, old, f.nick); });
        renderMembers();
        system('info', f.text);
        return;
      case 'msg':
        return; // "sent to NICK": the line was shown when sent
    }
    system('info', f.text);
  }

  // whoText and roomsText write a who or rooms answer for the message
  // pane as a terminal user reads it: the frame's text only counts the
  // entries, which come structured (the first ones, and how many more).
  function moreText(more) { return more ? ', … and ' + more + ' more' : ''; }
  function whoText(f) {
    if (!f.members || !f.members.length) return f.text;
    return f.room + ': ' + f.members.join(', ') + moreText(f.more) + ' (' + f.count + ')';
  }
  function roomsText(f) {
    if (!f.rooms || !f.rooms.length) return f.text;
    var list = f.rooms.map(function (x) { return x.room + ' (' + x.members + ')'; });
    return (f.count === 1 ? '1 room' : f.count + ' rooms') + ': ' + list.join(', ') + moreText(f.more);
  }

  function onError(f) {
    if (f.re === 'nick') {
      $('nick-input').value = state.nick;
      state.wantNick = state.nick;
    }
    system('error', f.text);
  }

  function onMessage(f) {
    if (f.epoch && state.rooms.has(f.topic)) {
      var p = state.pos[f.topic];
      if (p && p.epoch === f.epoch && f.seq <= p.seq) return; // shown already
      state.pos[f.topic] = { epoch: f.epoch, seq: f.seq };
      // Your own messages never come back live; one that comes in a
      // replay was shown when you sent it.
      if (p && f.from === state.nick) return;
    }
    var line = { cls: 'msg' + (f.from === 'http' ? ' http' : ''), from: f.from, text: f.text, ts: f.ts };
    if (state.rooms.has(f.topic)) {
      addLine(f.topic, line);
    } else {
      line.topic = f.topic; // a /sub subscription
      addLine(state.current, line);
    }
  }

  function onPrivate(f) {
    addLine(state.current, { cls: 'private', from: f.from + ' → you', text: f.text, ts: f.ts });
  }

  function onEvent(f) {
    if (f.kind === 'nick') {
      state.rooms.forEach(function (r, name) {
        if (r.members.indexOf(f.nick) >= 0) {
          rename(r.members, f.nick, f.new);
          addLine(name, { cls: 'event', text: f.text, ts: f.ts });
        }
      });
      renderMembers();
      return;
    }
    var r = state.rooms.get(f.room);
    if (!r) return;
    if (f.kind === 'join' && r.members.indexOf(f.nick) < 0) r.members.push(f.nick);
    if (f.kind === 'part') {
      var before = r.members.length;
      r.members = r.members.filter(function (m) { return m !== f.nick; });
      // One of those the listing left out.
      if (r.members.length === before && r.more > 0) r.more--;
    }
    r.members.sort();
    addLine(f.room, { cls: 'event', text: f.text, ts: f.ts });
    if (f.room === state.current) renderMembers();
  }

  function rename(list, from, to) {
    var i = list.indexOf(from);
    if (i >= 0) list[i] = to;
    list.sort();
  }

  // ---- rooms ------------------------------------------------------------

  function ensureRoom(name) {
    if (!state.rooms.has(name)) {
      state.rooms.set(name, { lines: [], unread: 0, members: [], more: 0, listed: false });
      saveRooms();
    }
    return state.rooms.get(name);
  }

  function dropRoom(name) {
    state.rooms.delete(name);
    delete state.pos[name];
    saveRooms();
    if (state.current === name) {
      var next = state.rooms.keys().next();
      state.current = '';
      if (!next.done) switchRoom(next.value); else { renderRooms(); renderLog(); renderMembers(); }
    } else {
      renderRooms();
    }
  }

  function saveRooms() { save('sb.rooms', Array.from(state.rooms.keys())); }

  function switchRoom(name) {
    state.current = name;
    save('sb.current', name);
    var r = state.rooms.get(name);
    if (r) r.unread = 0;
    $('room-title').textContent = name || '';
    document.title = (name ? '#' + name + ' · ' : '') + 'switchboard chat';
    renderRooms();
    renderLog();
    renderMembers();
  }

  // ---- rendering --------------------------------------------------------

  function addLine(room, line) {
    var r = room && state.rooms.get(room);
    if (!r) {
      appendLi(line);
      return;
    }
    r.lines.push(line);
    if (r.lines.length > MAX_LINES) r.lines.shift();
    if (room === state.current) {
      appendLi(line);
    } else if (line.cls.indexOf('msg') === 0) {
      r.unread++;
      renderRooms();
    }
  }

  function system(cls, text) {
    addLine(state.current, { cls: cls, text: text, ts: Date.now() });
  }

  function hhmm(ts) {
    var d = ts ? new Date(ts) : new Date();
    return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
  }

  function lineEl(line) {
    var li = document.createElement('li');
    li.className = line.cls;
    var t = document.createElement('span');
    t.className = 'time';
    t.textContent = hhmm(line.ts);
    li.appendChild(t);
    if (line.topic) {
      var tp = document.createElement('span');
      tp.className = 'topic';
      tp.textContent = '[' + line.topic + ']';
      li.appendChild(tp);
    }
    if (line.from) {
      var fr = document.createElement('span');
      fr.className = 'from';
      fr.textContent = line.from;
      li.appendChild(fr);
      li.dataset.from = line.from;
    }
    var tx = document.createElement('span');
    tx.className = 'text';
    tx.textContent = line.text;
    li.appendChild(tx);
    li.dataset.text = line.text;
    return li;
  }

  function appendLi(line) {
    var log = $('log');
    var empty = log.querySelector('.empty');
    if (empty) empty.remove();
    var stick = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    log.appendChild(lineEl(line));
    while (log.children.length > MAX_LINES) log.removeChild(log.firstChild);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function renderLog() {
    var log = $('log');
    log.textContent = '';
    var r = state.rooms.get(state.current);
    if (!r || !r.lines.length) {
      var li = document.createElement('li');
      li.className = 'empty';
      li.textContent = state.current ? 'No messages in #' + state.current + ' yet. Say hello!' : 'Join a room to start chatting.';
      log.appendChild(li);
      return;
    }
    var frag = document.createDocumentFragment();
    r.lines.forEach(function (l) { frag.appendChild(lineEl(l)); });
    log.appendChild(frag);
    log.scrollTop = log.scrollHeight;
  }

  function renderRooms() {
    var ul = $('rooms');
    ul.textContent = '';
    Array.from(state.rooms.keys()).sort().forEach(function (name) {
      var r = state.rooms.get(name);
      var li = document.createElement('li');
      li.className = name === state.current ? 'active' : '';
      li.dataset.room = name;
      var n = document.createElement('span');
      n.className = 'name';
      n.textContent = name;
      var u = document.createElement('span');
      u.className = 'unread';
      u.textContent = r.unread ? String(r.unread) : '';
      var x = document.createElement('button');
      x.className = 'leave';
      x.type = 'button';
      x.title = 'Leave #' + name;
      x.textContent = '×';
      x.addEventListener('click', function (e) { e.stopPropagation(); send({ op: 'part', room: name }); });
      li.append(n, u, x);
      li.addEventListener('click', function () { switchRoom(name); closeDrawer(); });
      ul.appendChild(li);
    });
  }

  function renderMembers() {
    var ul = $('members');
    ul.textContent = '';
    var r = state.rooms.get(state.current);
    var list = r ? r.members : [];
    var more = r ? r.more : 0; // members past the listing's first ones
    $('member-count').textContent = r ? '(' + (list.length + more) + ')' : '';
    list.forEach(function (m) {
      var li = document.createElement('li');
      li.textContent = m;
      li.title = m === state.nick ? 'you' : 'Send ' + m + ' a private message';
      if (m === state.nick) li.className = 'me';
      li.addEventListener('click', function () {
        if (m === state.nick) return;
        var t = $('text');
        t.value = '/msg ' + m + ' ';
        t.focus();
        closeDrawer();
      });
      ul.appendChild(li);
    });
    if (more > 0) {
      var rest = document.createElement('li');
      rest.className = 'more';
      rest.textContent = '… and ' + more + ' more';
      ul.appendChild(rest);
    }
  }

  function setStatus(cls, text) {
    var s = $('status');
    s.className = 'status ' + cls;
    s.textContent = text;
  }

  function banner(text, ok) {
    var b = $('banner');
    b.textContent = text;
    b.className = 'banner' + (ok ? ' ok' : '');
  }

  function hideBanner() { $('banner').className = 'banner hidden'; }

  function closeDrawer() {
    $('app').classList.remove('drawer');
    $('menu').setAttribute('aria-expanded', 'false');
  }

  // ---- input ------------------------------------------------------------

  function words(s, n) {
    // The first n-1 words, then the rest as one.
    var out = [];
    s = s.trim();
    while (out.length < n - 1 && s) {
      var i = s.search(/\s/);
      if (i < 0) { out.push(s); s = ''; break; }
      out.push(s.slice(0, i));
      s = s.slice(i).trim();
    }
    if (s) out.push(s);
    return out;
  }

  function command(text) {
    if (/^\/\s/.test(text)) {
      // "/ join t1": a typo, not a command and not text for the room.
      var w = words(text.slice(1), 2)[0] || '';
      return system('error', KNOWN.indexOf(w.toLowerCase()) >= 0
        ? "no space after '/': type /" + w.toLowerCase() + ', not / ' + w + "; //text sends text starting with '/'"
        : "no space after '/': commands are written /join ROOM; //text sends text starting with '/'");
    }
    var parts = words(text.slice(1), 2);
    var cmd = (parts[0] || '').toLowerCase();
    var rest = parts[1] || '';
    var a;
    switch (cmd) {
      case 'nick': return rest ? send({ op: 'nick', nick: rest }) : system('error', 'usage: /nick NAME');
      case 'join': return rest ? joinRoom(rest) : system('error', 'usage: /join ROOM');
      case 'part': return send({ op: 'part', room: rest || state.current });
      case 'who':
        a = rest || state.current;
        if (!a) return system('error', 'usage: /who ROOM (you are in no room)');
        if (send({ op: 'who', room: a })) state.whoAsked[a] = (state.whoAsked[a] || 0) + 1;
        return;
      case 'rooms': return send({ op: 'rooms' });
      case 'ping': return send({ op: 'ping', text: rest });
      case 'help': return send({ op: 'help' });
      case 'msg':
        a = words(rest, 2);
        if (a.length < 2) return system('error', 'usage: /msg NICK TEXT');
        if (send({ op: 'msg', to: a[0], text: a[1] })) {
          addLine(state.current, { cls: 'private', from: 'you → ' + a[0], text: a[1], ts: Date.now() });
        }
        return;
      case 'sub':
        a = words(rest, 2);
        if (!a.length) return system('error', 'usage: /sub PATTERN [GROUP]');
        return send(a[1] ? { op: 'sub', topic: a[0], group: a[1] } : { op: 'sub', topic: a[0] });
      case 'unsub': return rest ? send({ op: 'unsub', topic: rest }) : system('error', 'usage: /unsub PATTERN');
      case 'pub':
        a = words(rest, 2);
        if (a.length < 2) return system('error', 'usage: /pub TOPIC TEXT');
        return send({ op: 'pub', topic: a[0], text: a[1] });
    }
    system('error', 'unknown command /' + cmd + '; try /help');
  }

  var KNOWN = ['nick', 'join', 'part', 'who', 'rooms', 'ping', 'help', 'msg', 'sub', 'unsub', 'pub'];

  // tcpHint shows "nc HOST PORT" for the TCP door the server really has
  // (GET /api/doors); a door on all interfaces is reached at the host this
  // page came from.
  function tcpHint() {
    fetch('/api/doors', { cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (d) {
        var m = /^\[?(.*?)\]?:(\d+)$/.exec(d.tcp || '');
        if (!m) return;
        var host = m[1];
        if (host === '' || host === '0.0.0.0' || host === '::') host = (location.hostname || 'localhost').replace(/^\[|\]$/g, '');
        $('tcp-cmd').textContent = 'nc ' + host + ' ' + m[2];
        $('tcp-hint').classList.remove('hidden');
      })
      .catch(function () { /* no hint */ });
  }

  function submitText(e) {
    e.preventDefault();
    var input = $('text');
    var text = input.value;
    if (!text.trim()) return;
    if (text[0] === '/' && text[1] !== '/') {
      command(text);
    } else {
      if (text[0] === '/') text = text.slice(1);
      if (!state.current) {
        system('error', 'join a room first: /join ROOM');
        return;
      }
      if (!send({ op: 'pub', topic: state.current, text: text })) return;
      addLine(state.current, { cls: 'msg mine', from: state.nick, text: text, ts: Date.now() });
    }
    input.value = '';
  }

  function init() {
    $('send-form').addEventListener('submit', submitText);
    $('join-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var v = $('join-input').value.trim();
      if (!v) return;
      if (state.rooms.has(v)) switchRoom(v); else joinRoom(v);
      $('join-input').value = '';
      closeDrawer();
    });
    $('nick-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var v = $('nick-input').value.trim();
      if (!v || v === state.nick) return;
      state.wantNick = v;
      send({ op: 'nick', nick: v });
      $('nick-input').blur();
    });
    $('menu').addEventListener('click', function () {
      var open = $('app').classList.toggle('drawer');
      $('menu').setAttribute('aria-expanded', open ? 'true' : 'false');
    });
    renderLog();
    tcpHint();
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
