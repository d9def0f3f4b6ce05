// Socket.IO load for the hub latency benchmark: raw Engine.IO v4 / Socket.IO v5 over WebSocket
// (Debian's node-ws, no client library), many connections in one Node process.
//
//   NODE_PATH=/usr/share/nodejs node clients.js URL FIRST COUNT DEVICES FLEET_EVERY
//
// Connection k (FIRST <= k < FIRST+COUNT) subscribes to device bench-(k mod DEVICES), or to "*"
// (the whole fleet) when FLEET_EVERY > 0 and k % FLEET_EVERY == FLEET_EVERY - 1. Prints "ready"
// once every connection's subscribe is acknowledged. Then reads commands on stdin:
//   "measure" - from now on, record latency = receipt wall clock (ms) - reading ts for every
//               `reading` event, and count deliveries; likewise receipt - ts for every active or
//               cleared `alert` (its ts is the event time of the reading that caused it);
//   "report"  - print one JSON line {deliveries, seconds, latencies_ms: [...]} and exit.
'use strict';
const WebSocket = require('ws');
const readline = require('readline');

const [url, first, count, devices, fleetEvery] = [process.argv[2], ...process.argv.slice(3, 7).map(Number)];
const target = url.replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket';
let measuring = false, since = 0, deliveries = 0, other = 0;
const latencies = [], alertLatencies = [];
let subscribed = 0;

function open(k) {
  const room = fleetEvery > 0 && k % fleetEvery === fleetEvery - 1 ? '*' : 'bench-' + String(k % devices).padStart(5, '0');
  const ws = new WebSocket(target, { perMessageDeflate: false });
  ws.on('message', (data) => {
    const now = Date.now();
    const text = data.toString();
    if (text.startsWith('42["reading"')) {
      if (measuring) {
        const i = text.indexOf('"ts":');
        latencies.push(now - parseInt(text.slice(i + 5), 10));
        deliveries++;
      }
    } else if (text.startsWith('42["alert"')) {
      // Reading-to-alert: an active/cleared transition's ts is the event time of the reading that
      // caused it (the publish wall clock here).
      if (measuring) other++;
      if (measuring && !text.includes('"state":"acknowledged"')) {
        const i = text.indexOf('"ts":');
        alertLatencies.push(now - parseInt(text.slice(i + 5), 10));
      }
    } else if (text === '2') {
      ws.send('3');
    } else if (text.startsWith('0{')) {
      ws.send('40');
    } else if (text.startsWith('40')) {
      ws.send('421["subscribe",' + JSON.stringify({ devices: [room] }) + ']');
    } else if (text.startsWith('431')) {
      if (!text.includes('"ok":true')) { console.error('subscribe refused: ' + text); process.exit(1); }
      if (++subscribed === count) console.log('ready');
    } else if (measuring && text.startsWith('42')) {
      other++;
    }
  });
  ws.on('error', (e) => { console.error('connection ' + k + ': ' + e.message); process.exit(1); });
  ws.on('close', () => { if (!reported) { console.error('connection ' + k + ' closed'); process.exit(1); } });
}

let reported = false;
// Open in small steps so the hub is not hit by 1,000 handshakes at once.
let k = first;
const opener = setInterval(() => {
  for (let i = 0; i < 20 && k < first + count; i++) open(k++);
  if (k >= first + count) clearInterval(opener);
}, 20);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'measure') {
    measuring = true;
    since = Date.now();
  } else if (line === 'report') {
    reported = true;
    const seconds = (Date.now() - since) / 1000;
    process.stdout.write(JSON.stringify({ deliveries, other_events: other, seconds, latencies_ms: latencies, alert_latencies_ms: alertLatencies }) + '\n', () => process.exit(0));
  }
});
