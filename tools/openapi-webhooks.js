#!/usr/bin/env node
// Validates webhook deliveries against the "webhooks" of docs/openapi.yaml.
//
//   node tools/openapi-webhooks.js [--spec docs/openapi.yaml] LOG...
//
// Each line of a LOG is one delivery as tools/webhook-receiver.js wrote
// it (path, id, timestamp, signature, body, ...).  The body's "type"
// names the webhook (report.completed, report.failed); the body must match
// that webhook's request schema and the webhook-* headers their parameter
// schemas (Ajv, JSON Schema 2020-12, as OpenAPI 3.1 has it).  Prints one
// line per problem and a summary; exits 1 on a problem, 2 when it cannot
// run.

'use strict';

const fs = require('fs');
const path = require('path');
const { OpenAPIBackend } = require('openapi-backend');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

async function main() {
    const args = process.argv.slice(2);
    let spec = path.join(__dirname, '..', 'docs', 'openapi.yaml');
    const files = [];

    for (let i = 0; i < args.length; i++) {
        if (args[i] === '--spec') {
            spec = args[++i];
        } else {
            files.push(args[i]);
        }
    }

    if (files.length === 0) {
        process.stderr.write('usage: openapi-webhooks.js [--spec FILE] '
                             + 'LOG...\n');
        process.exit(2);
    }

    const api = new OpenAPIBackend({ definition: path.resolve(spec),
                                     quick: true });
    await api.init();

    const hooks = api.definition.webhooks || {};
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);

    const validators = {};

    for (const [name, item] of Object.entries(hooks)) {
        const op = item.post;
        const headers = {};

        for (const p of op.parameters || []) {
            if (p.in === 'header') {
                headers[p.name] = ajv.compile(p.schema);
            }
        }

        validators[name] = {
            body: ajv.compile(
                op.requestBody.content['application/json'].schema),
            headers,
        };
    }

    const problems = [];
    let count = 0;

    for (const file of files) {
        const lines = fs.readFileSync(file, 'utf8').split('\n');

        lines.forEach((line, i) => {
            if (line.trim() === '') {
                return;
            }

            const where = `${file}:${i + 1}`;
            let rec;
            let body;

            try {
                rec = JSON.parse(line);
                body = JSON.parse(rec.body);
            } catch (e) {
                problems.push(`${where}: not JSON`);
                return;
            }

            count++;
            const v = validators[body.type];

            if (!v) {
                problems.push(`${where}: no webhook "${body.type}" in the `
                              + 'specification');
                return;
            }

            if (!v.body(body)) {
                for (const e of v.body.errors) {
                    problems.push(`${where}: ${body.type}: body `
                                  + `${e.instancePath || '(root)'} `
                                  + `${e.message}`);
                }
            }

            const got = { 'webhook-id': rec.id,
                          'webhook-timestamp': rec.timestamp,
                          'webhook-signature': rec.signature };

            for (const [name, check] of Object.entries(v.headers)) {
                if (!check(got[name])) {
                    problems.push(`${where}: ${body.type}: header ${name} `
                                  + `${JSON.stringify(got[name])} `
                                  + `${check.errors[0].message}`);
                }
            }
        });
    }

    for (const p of problems) {
        process.stdout.write(`not documented: ${p}\n`);
    }

    process.stdout.write(`openapi-webhooks: ${count} deliveries validated, `
                         + `${problems.length} problems\n`);
    process.exit(problems.length ? 1 : 0);
}

main().catch((e) => {
    process.stderr.write(`openapi-webhooks: ${e.stack || e}\n`);
    process.exit(2);
});
