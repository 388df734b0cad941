#!/usr/bin/env node
/*
 * Local S3 for the tests and the demo: @20minutes/s3rver 5.0.0, which
 * checks SigV4 signatures (header and query forms) like S3 does.
 *
 *   node tools/s3rver.js [--address 127.0.0.1] [--port 4569]
 *       [--directory DIR] [--bucket NAME]... [--key ID:SECRET[:TOKEN]]...
 *       [--service-endpoint amazonaws.com] [--admin] [--verbose]
 *
 * Every option can come from the environment instead: S3RVER_ADDRESS,
 * S3RVER_PORT, S3RVER_DIRECTORY, S3RVER_BUCKETS and S3RVER_KEYS (comma- or
 * space-separated lists), S3RVER_SERVICE_ENDPOINT, S3RVER_VERBOSE=1.
 * Port 0 picks a free port.  Without --directory the objects live in a new
 * temporary directory that is removed on exit.  The default key pair
 * S3RVER:S3RVER is always there.
 *
 * Session tokens: s3rver 5.0.0 verifies a request's signature, which
 * covers X-Amz-Security-Token, but takes any token or none.  Here a key
 * pair given a TOKEN (temporary credentials, as STS issues them) must be
 * used with exactly that token, in the x-amz-security-token header or the
 * X-Amz-Security-Token query parameter, and a pair without one with no
 * token, or the request is refused with 400 InvalidToken, as S3 does.
 *
 * --admin (the tests) adds key pairs and revokes them while it runs:
 *   PUT    /-/keys/ID  {"secret":"...","token":"..."}  (token optional)
 *   DELETE /-/keys/ID
 * both answered 204.  No bucket can be named "-", so no S3 request is
 * taken for these.
 *
 * Prints "s3rver listening on ADDRESS:PORT" once it accepts connections,
 * and exits with status 0 on SIGTERM or SIGINT.
 */

'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

/*
 * s3rver's dependencies (@koa/router) call these ES2023 methods; Debian 12
 * ships Node 18, which lacks them, and every request would then fail with
 * a 500.  Copying methods with the same semantics is enough.
 */
for (const [name, impl] of [
  [
    'toReversed',
    function toReversed() {
      return Array.prototype.slice.call(this).reverse()
    },
  ],
  [
    'toSorted',
    function toSorted(compare) {
      if (compare !== undefined && typeof compare !== 'function') {
        throw new TypeError('The comparison function must be either a function or undefined')
      }
      return Array.prototype.slice.call(this).sort(compare)
    },
  ],
]) {
  if (typeof Array.prototype[name] !== 'function') {
    Object.defineProperty(Array.prototype, name, {
      value: impl,
      writable: true,
      configurable: true,
      enumerable: false,
    })
  }
}

const S3rver = require('@20minutes/s3rver/lib/s3rver.js')
const { DUMMY_ACCOUNT } = require('@20minutes/s3rver/lib/models/account.js')

function usage(message) {
  if (message) {
    process.stderr.write(`s3rver: ${message}\n`)
  }
  process.stderr.write(
    'usage: node tools/s3rver.js [--address ADDR] [--port N] ' +
      '[--directory DIR]\n' +
      '       [--bucket NAME]... [--key ID:SECRET]... ' +
      '[--service-endpoint HOST] [--verbose]\n'
  )
  process.exit(message ? 2 : 0)
}

/* access key id -> the session token its requests must carry */
const sessionTokens = new Map()

function addKey(id, secret, token) {
  DUMMY_ACCOUNT.createKeyPair(id, secret)
  if (token) {
    sessionTokens.set(id, token)
  } else {
    sessionTokens.delete(id)
  }
}

function s3Error(ctx, status, code, message) {
  ctx.status = status
  ctx.type = 'application/xml'
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message></Error>`
}

/* the key id a request is signed with: header or query form */
function requestKeyId(ctx) {
  const m = /Credential=([^/,\s]+)\//.exec(ctx.get('authorization'))
  if (m) {
    return m[1]
  }
  const credential = ctx.query['X-Amz-Credential']
  return typeof credential === 'string' ? credential.split('/')[0] : undefined
}

async function sessionTokenCheck(ctx, next) {
  const id = requestKeyId(ctx)
  /* an unknown key: s3rver's own InvalidAccessKeyId */
  if (id !== undefined && DUMMY_ACCOUNT.accessKeys.has(id)) {
    const want = sessionTokens.get(id)
    const got = ctx.get('x-amz-security-token') || ctx.query['X-Amz-Security-Token'] || undefined
    if (got !== want) {
      s3Error(ctx, 400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.')
      return
    }
  }
  await next()
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => {
      data += chunk
    })
    req.on('end', () => resolve(data))
    req.on('error', reject)
  })
}

async function admin(ctx, next) {
  const m = /^\/-\/keys\/([A-Za-z0-9_.-]+)$/.exec(ctx.path)
  if (!ctx.path.startsWith('/-/')) {
    await next()
    return
  }
  if (m && ctx.method === 'PUT') {
    let body
    try {
      body = JSON.parse(await readBody(ctx.req))
    } catch (err) {
      body = undefined
    }
    if (!body || typeof body.secret !== 'string' || !body.secret) {
      ctx.status = 400
      return
    }
    addKey(m[1], body.secret, body.token)
    ctx.status = 204
    return
  }
  if (m && ctx.method === 'DELETE') {
    DUMMY_ACCOUNT.revokeAccessKey(m[1])
    sessionTokens.delete(m[1])
    ctx.status = 204
    return
  }
  ctx.status = 404
}

function list(value) {
  return (value || '').split(/[\s,]+/).filter(Boolean)
}

function parseOptions(argv, env) {
  const opts = {
    address: env.S3RVER_ADDRESS || '127.0.0.1',
    port: env.S3RVER_PORT || '4569',
    directory: env.S3RVER_DIRECTORY || '',
    buckets: list(env.S3RVER_BUCKETS),
    keys: list(env.S3RVER_KEYS),
    serviceEndpoint: env.S3RVER_SERVICE_ENDPOINT || 'amazonaws.com',
    verbose: env.S3RVER_VERBOSE === '1' || env.S3RVER_VERBOSE === 'true',
    admin: false,
  }

  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]
    let value

    const eq = arg.indexOf('=')
    if (arg.startsWith('--') && eq !== -1) {
      value = arg.slice(eq + 1)
      arg = arg.slice(0, eq)
    }

    const take = () => {
      if (value !== undefined) {
        return value
      }
      if (i + 1 >= argv.length) {
        usage(`${arg} needs a value`)
      }
      return argv[++i]
    }

    switch (arg) {
      case '--address':
      case '-a':
        opts.address = take()
        break
      case '--port':
      case '-p':
        opts.port = take()
        break
      case '--directory':
      case '-d':
        opts.directory = take()
        break
      case '--bucket':
      case '-b':
        opts.buckets.push(...list(take()))
        break
      case '--key':
      case '-k':
        opts.keys.push(...list(take()))
        break
      case '--service-endpoint':
        opts.serviceEndpoint = take()
        break
      case '--verbose':
      case '-v':
        opts.verbose = true
        break
      case '--admin':
        opts.admin = true
        break
      case '--help':
      case '-h':
        usage()
        break
      default:
        usage(`unknown option ${arg}`)
    }
  }

  if (!/^\d+$/.test(String(opts.port)) || Number(opts.port) > 65535) {
    usage(`bad port "${opts.port}"`)
  }
  opts.port = Number(opts.port)

  opts.keyPairs = opts.keys.map((pair) => {
    const [id, secret, token, ...rest] = pair.split(':')
    if (!id || !secret || token === '' || rest.length > 0) {
      /* never echo the pair: its second half is a secret */
      usage('a key must be ID:SECRET or ID:SECRET:TOKEN')
    }
    return [id, secret, token]
  })

  return opts
}

async function main() {
  const opts = parseOptions(process.argv.slice(2), process.env)

  let directory = opts.directory
  let temporary = false

  if (directory) {
    fs.mkdirSync(directory, { recursive: true })
  } else {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-'))
    temporary = true
  }

  for (const [id, secret, token] of opts.keyPairs) {
    addKey(id, secret, token)
  }

  const server = new S3rver({
    address: opts.address,
    port: opts.port,
    directory,
    silent: !opts.verbose,
    serviceEndpoint: opts.serviceEndpoint,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  })

  /* before s3rver's own middleware: Koa composes them at listen() */
  server.middleware.unshift(sessionTokenCheck)
  if (opts.admin) {
    server.middleware.unshift(admin)
  }

  let stopping = false

  const stop = (signal) => {
    if (stopping) {
      return
    }
    stopping = true

    const done = () => {
      if (temporary) {
        fs.rmSync(directory, { recursive: true, force: true })
      }
      process.exit(0)
    }

    /* keep-alive clients must not hold the exit back */
    const timer = setTimeout(done, 2000)
    timer.unref()

    if (server.httpServer) {
      server.httpServer.close(done)
      if (typeof server.httpServer.closeAllConnections === 'function') {
        server.httpServer.closeAllConnections()
      }
    } else {
      done()
    }

    if (opts.verbose) {
      process.stderr.write(`s3rver: ${signal}, stopping\n`)
    }
  }

  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  /*
   * server.run() would leave a failed listen (EADDRINUSE, EACCES) as an
   * unhandled 'error' event: listen here and turn it into a message
   */
  let address
  try {
    await server.configureBuckets()
    server.httpServer = await new Promise((resolve, reject) => {
      const httpServer = server.listen(opts.port, opts.address, () => resolve(httpServer))
      httpServer.once('error', reject)
    })
    address = server.httpServer.address()
  } catch (err) {
    process.stderr.write(`s3rver: cannot start: ${err.message}\n`)
    if (temporary) {
      fs.rmSync(directory, { recursive: true, force: true })
    }
    process.exit(1)
  }

  const host = address.family === 'IPv6' || address.family === 6
    ? `[${address.address}]`
    : address.address

  process.stdout.write(`s3rver listening on ${host}:${address.port}\n`)
}

main()
