#!/usr/bin/env node
/*
 * A webhook receiver for the tests: every delivery is verified with the
 * Standard Webhooks reference library (npm standardwebhooks, pinned in
 * package.json), not with the module's own code, and written as one JSON
 * line to the log file.
 *
 *   node tools/webhook-receiver.js DIR [--port N] [--address 127.0.0.1]
 *       [--tls CERTDIR]
 *
 * With --tls, https with CERTDIR/server.pem and server.key.
 *
 * DIR/secrets.json maps a path to the secret its deliveries must be
 * signed with: {"/acme": "whsec_..."}.  DIR/mode.<name>, where <name> is
 * the path without its "/", says how to answer, one line an attempt; the
 * first line is used and removed while more than one is left (so
 * "500\n500\n200" fails two attempts and takes the third):
 *
 *   200, 204, 410, 500, ...   answer that status
 *   hang                      never answer (the connection stays open)
 *   slow:MS                   answer 200 after MS milliseconds
 *
 * No mode file: DIR/mode, one line for every path that has none of its
 * own; neither: 200.  The files are read at every request, so a test
 * changes them while the receiver runs.  DIR/log gets, for every request:
 *
 *   {"path","id","timestamp","signature","verified","error","status",
 *    "at","body"}
 *
 * where "verified" is what the reference library said, "error" its
 * message when it refused, and "status" the answer given (null: none).
 * Prints "receiver listening on ADDRESS:PORT" once it accepts
 * connections; exits with status 0 on SIGTERM or SIGINT.
 */

'use strict'

const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const path = require('node:path')
const { Webhook } = require('standardwebhooks')

const args = process.argv.slice(2)
const dir = args[0]
let port = 0
let address = '127.0.0.1'
let tls = null

for (let i = 1; i < args.length; i += 2) {
  if (args[i] === '--port') port = Number(args[i + 1])
  else if (args[i] === '--address') address = args[i + 1]
  else if (args[i] === '--tls') tls = args[i + 1]
  else {
    console.error(`webhook-receiver: unknown option ${args[i]}`)
    process.exit(2)
  }
}

if (!dir) {
  console.error('usage: webhook-receiver.js DIR [--port N] [--address A]')
  process.exit(2)
}

function readJson (file, dflt) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (e) {
    return dflt
  }
}

/* the first line of the mode file, removed while more than one is left */
function takeMode (name) {
  const file = path.join(dir, `mode.${name}`)
  let lines

  try {
    lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
  } catch (e) {
    /* every path's, unless it has its own */
    try {
      return fs.readFileSync(path.join(dir, 'mode'), 'utf8').trim() || '200'
    } catch (e2) {
      return '200'
    }
  }

  if (lines.length > 1) {
    fs.writeFileSync(`${file}.tmp`, lines.slice(1).join('\n') + '\n')
    fs.renameSync(`${file}.tmp`, file)
  }

  return lines[0] || '200'
}

function log (entry) {
  fs.appendFileSync(path.join(dir, 'log'), JSON.stringify(entry) + '\n')
}

const handler = (req, res) => {
  const chunks = []

  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    const secrets = readJson(path.join(dir, 'secrets.json'), {})
    const secret = secrets[req.url]
    const entry = {
      path: req.url,
      id: req.headers['webhook-id'] || null,
      timestamp: req.headers['webhook-timestamp'] || null,
      signature: req.headers['webhook-signature'] || null,
      contentType: req.headers['content-type'] || null,
      verified: false,
      error: null,
      status: null,
      at: Date.now() / 1000,
      body
    }

    try {
      if (!secret) throw new Error(`no secret for ${req.url}`)
      new Webhook(secret).verify(body, req.headers)
      entry.verified = true
    } catch (e) {
      entry.error = String(e.message || e)
    }

    const mode = takeMode(req.url.replace(/^\//, '').replace(/[^\w-]/g, '_'))

    if (mode === 'hang') {
      log(entry)
      return
    }

    const m = /^slow:(\d+)$/.exec(mode)
    const status = m ? 200 : Number(mode) || 200
    const answer = () => {
      entry.status = status
      log(entry)
      res.writeHead(status, { 'Content-Type': 'text/plain' })
      res.end('')
    }

    if (m) setTimeout(answer, Number(m[1]))
    else answer()
  })
}

const server = tls
  ? https.createServer({ cert: fs.readFileSync(path.join(tls, 'server.pem')),
                         key: fs.readFileSync(path.join(tls, 'server.key')) },
                       handler)
  : http.createServer(handler)

server.keepAliveTimeout = 60000
server.listen(port, address, () => {
  const a = server.address()
  console.log(`receiver listening on ${a.address}:${a.port}`)
})

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0))
}
