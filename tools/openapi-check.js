#!/usr/bin/env node
// Validates recorded API responses against docs/openapi.yaml.
//
//   node tools/openapi-check.js [--spec docs/openapi.yaml] FILE.jsonl...
//
// Each line of the files is one response that the test suite received
// from an API location (t/lib/PdfReport/Record.pm writes them): method,
// request target, the path nginx routed ("uri") and the API prefix that
// served it, status, headers and body.  The checks are openapi-backend's
// (its router, and its Ajv validators of bodies and headers, here with
// Ajv's JSON Schema 2020-12 dialect, the one OpenAPI 3.1 uses):
//
// - the request is routed to its operation, the API prefix taken as the
//   specification's /v1/document/api; a path that none lists is
//   answered by components/responses/NotFound, a method its path does
//   not list by components/responses/MethodNotAllowed;
// - the status must be documented on that operation (a code, its nXX
//   range or "default");
// - Content-Type must be one of the response's media types, and the body
//   (none for HEAD) must match its schema: an undocumented field fails,
//   as the schemas allow none;
// - every header but the transport's own (Date, Server, Connection,
//   Keep-Alive, Transfer-Encoding, Content-Length, Content-Type) must be
//   documented on the response and match its schema, and the ones
//   documented as required must be there.
//
// Prints one line per distinct problem (with how often and where it was
// seen first) and a summary; exits 1 when there is a problem, 2 when it
// cannot run.

'use strict';

const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const { OpenAPIBackend } = require('openapi-backend');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const SPEC_PREFIX = '/v1/document/api';
const TRANSPORT = new Set(['date', 'server', 'connection', 'keep-alive',
    'transfer-encoding', 'content-length', 'content-type']);

function usage(msg) {
    if (msg) {
        process.stderr.write(`openapi-check: ${msg}\n`);
    }
    process.stderr.write('usage: openapi-check.js [--spec FILE] '
                         + 'RESPONSES.jsonl...\n');
    process.exit(2);
}

function parseArgs(argv) {
    const o = { spec: path.join(__dirname, '..', 'docs', 'openapi.yaml'),
                files: [] };

    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--spec') {
            o.spec = argv[++i];
        } else if (argv[i].startsWith('-')) {
            usage(`unknown option ${argv[i]}`);
        } else {
            o.files.push(argv[i]);
        }
    }

    if (!o.spec || o.files.length === 0) {
        usage();
    }

    return o;
}

// the Ajv of OpenAPI 3.1 schemas, with the options openapi-backend asks
// for (coercion of header strings, for one)
function customizeAjv(ajv, ajvOpts) {
    const a = new Ajv2020({ ...ajvOpts, strict: false, allErrors: true });
    addFormats(a);
    return a;
}

function mediaType(value) {
    return String(value || '').split(';')[0].trim().toLowerCase();
}

function ajvErrors(errors) {
    return (errors || []).map((e) => {
        const where = e.instancePath || '(root)';
        const extra = e.params && e.params.additionalProperty !== undefined
            ? ` "${e.params.additionalProperty}"`
            : e.params && e.params.allowedValues
                ? ` ${JSON.stringify(e.params.allowedValues)}`
                : e.params && e.params.allowedValue !== undefined
                    ? ` ${JSON.stringify(e.params.allowedValue)}`
                    : '';
        return `${where} ${e.message}${extra}`;
    });
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const started = performance.now();

    // "quick": no check of the document by openapi-backend, whose
    // checker knows OpenAPI 3.0 only (redocly lint checks it, t/99);
    // the YAML is read and dereferenced all the same
    const api = new OpenAPIBackend({
        definition: path.resolve(opts.spec),
        quick: true,
        strict: true,
        validate: true,
        ignoreTrailingSlashes: false,
        customizeAjv,
    });

    await api.init();

    const loaded = performance.now();
    const validator = api.validator;
    const utils = require('openapi-backend/utils').default;
    const responsesOf = api.definition.components.responses;

    // requests outside the listed operations
    const unlisted = {
        path: { operationId: '(a path not listed)',
                responses: { 404: responsesOf.NotFound } },
        method: { operationId: '(a method its path does not list)',
                  responses: { 405: responsesOf.MethodNotAllowed } },
    };

    const compiled = new Map();

    function validatorsOf(op) {
        let v = compiled.get(op.operationId);

        if (!v) {
            v = {
                body: validator
                    .buildStatusBasedResponseValidatorForOperation(op) || {},
                headers: validator.buildResponseHeadersValidatorForOperation(op)
                         || {},
            };
            compiled.set(op.operationId, v);
        }

        return v;
    }

    const problems = new Map();
    const seen = new Map();
    let count = 0;

    function problem(rec, op, status, text) {
        const key = `${op} ${status}: ${text}`;
        const p = problems.get(key);

        if (p) {
            p.n++;
        } else {
            problems.set(key, {
                n: 1,
                at: `${rec.block || rec.test} (${rec.source}: ${rec.method} `
                    + `${rec.target})`,
            });
        }
    }

    function check(rec) {
        const method = rec.method.toLowerCase();
        const rel = rec.uri.slice(rec.prefix.length);
        const specPath = SPEC_PREFIX + rel;
        let op;

        try {
            op = api.router.matchOperation({ method, path: specPath,
                                             headers: {} }, true);
        } catch (e) {
            op = /^405/.test(e.message) ? unlisted.method : unlisted.path;
        }

        const id = op.operationId;
        const response = utils.findStatusCodeMatch(rec.status,
                                                    op.responses);
        const key = op.responses[rec.status] ? ''
                    : op.responses[`${Math.floor(rec.status / 100)}XX`]
                    ? ` (as ${Math.floor(rec.status / 100)}XX)`
                    : ' (as default)';
        const status = `${rec.status}${key}`;

        seen.set(`${id} ${status}`, (seen.get(`${id} ${status}`) || 0) + 1);

        if (!response) {
            problem(rec, id, rec.status, 'the status is not documented');
            return;
        }

        const headers = rec.headers || {};
        const type = mediaType(headers['content-type']);
        const content = response.content || {};
        const types = Object.keys(content);
        const head = method === 'head';
        const body = rec.body_base64 !== undefined
            ? Buffer.from(rec.body_base64, 'base64').toString('latin1')
            : rec.body;

        if (types.length && !types.includes(type)) {
            problem(rec, id, status, `Content-Type "${type}" is not one of `
                    + types.join(', '));

        } else if (!types.length && body !== '') {
            problem(rec, id, status, 'a body where none is documented');
        }

        if (head) {
            if (body !== '') {
                problem(rec, id, status, 'a body in the answer to HEAD');
            }

        } else if (types.includes('application/json')
                   && type === 'application/json')
        {
            let json;

            try {
                json = JSON.parse(body);
            } catch (e) {
                problem(rec, id, status, 'the body is not JSON');
            }

            const validate = json !== undefined
                ? utils.findStatusCodeMatch(rec.status,
                                            validatorsOf(op).body)
                : null;

            if (validate && !validate(json)) {
                for (const err of ajvErrors(validate.errors)) {
                    problem(rec, id, status, `body ${err}`);
                }
            }
        }

        const documented = {};
        const lower = {};

        for (const [name, h] of Object.entries(response.headers || {})) {
            documented[name.toLowerCase()] = h;
        }

        for (const [name, value] of Object.entries(headers)) {
            if (!TRANSPORT.has(name)) {
                lower[name] = value;
            }
        }

        for (const name of Object.keys(lower)) {
            if (!documented[name]) {
                problem(rec, id, status, `header ${name} is not documented`);
                delete lower[name];
            }
        }

        for (const [name, h] of Object.entries(documented)) {
            if (h.required && lower[name] === undefined) {
                problem(rec, id, status, `required header ${name} is missing`);
            }
        }

        const hv = utils.findStatusCodeMatch(rec.status,
                                             validatorsOf(op).headers);
        const validateHeaders = hv && hv.subset;

        if (validateHeaders && !validateHeaders({ headers: { ...lower } })) {
            for (const err of ajvErrors(validateHeaders.errors)) {
                problem(rec, id, status,
                        `header ${err.replace(/^\/headers\//, '')}`);
            }
        }
    }

    for (const file of opts.files) {
        const lines = fs.readFileSync(file, 'utf8').split('\n');

        lines.forEach((line, i) => {
            if (line.trim() === '') {
                return;
            }

            let rec;

            try {
                rec = JSON.parse(line);
            } catch (e) {
                problem({ block: `${file}:${i + 1}`, source: 'file',
                          method: '-', target: '-' },
                        '(recording)', '-', 'not a JSON line');
                return;
            }

            count++;
            check(rec);
        });
    }

    const done = performance.now();

    for (const [key, p] of problems) {
        process.stdout.write(`not documented: ${key} [${p.n}x; first: `
                             + `${p.at}]\n`);
    }

    const summary = [...seen.entries()].sort()
        .map(([k, n]) => `${k} (${n})`).join(', ');

    process.stdout.write(`openapi-check: seen: ${summary}\n`);
    process.stdout.write(`openapi-check: ${count} responses validated in `
                         + `${Math.round(done - loaded)} ms (the spec loaded `
                         + `in ${Math.round(loaded - started)} ms), `
                         + `${problems.size} distinct problems\n`);

    process.exit(problems.size ? 1 : 0);
}

main().catch((e) => {
    process.stderr.write(`openapi-check: ${e.stack || e}\n`);
    process.exit(2);
});
