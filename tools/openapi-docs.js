#!/usr/bin/env node
// Makes the page "redocly build-docs" wrote self-contained (make docs):
//
//   node tools/openapi-docs.js IN.html OUT.html
//
// The page is prerendered, but it loads the Redoc script from a CDN to
// become interactive.  That script tag is replaced by the same version of
// the script from the installed redoc package, inline, and the page is
// then refused if it still loads anything from elsewhere (a script, a
// style sheet, a font, an image): it must work offline.

'use strict';

const fs = require('fs');
const path = require('path');

function fail(msg) {
    process.stderr.write(`openapi-docs: ${msg}\n`);
    process.exit(1);
}

if (process.argv.length !== 4) {
    fail('usage: openapi-docs.js IN.html OUT.html');
}

const [input, output] = process.argv.slice(2);
let html = fs.readFileSync(input, 'utf8');

const redocDir = path.dirname(require.resolve('redoc/package.json'));
const version = require('redoc/package.json').version;
const cdn = new RegExp('<script src="https://cdn\\.redocly\\.com/redoc/'
                       + 'v([^/"]+)/bundles/redoc\\.standalone\\.js">'
                       + '</script>');
const m = html.match(cdn);

if (!m) {
    fail(`${input}: no Redoc script tag to replace`);
}

if (m[1] !== version) {
    fail(`${input} wants Redoc ${m[1]}, node_modules has ${version}`);
}

// "</script" inside the script would end the element early
const bundle = fs.readFileSync(path.join(redocDir, 'bundles',
                                         'redoc.standalone.js'), 'utf8')
    .replace(/<\/script/gi, '<\\/script');

// what a browser would fetch by itself from the page (the script aside):
// src=, <link href=>, CSS url() and @import of an absolute URL (links to
// follow are not fetched)
const fetched = [
    new RegExp('<(?:script|img|i?frame|source|video|audio|embed)\\b'
               + '[^>]*\\ssrc="(?:https?:)?//', 'i'),
    /<link\b[^>]*\shref="(?:https?:)?\/\//i,
    /url\(\s*['"]?(?:https?:)?\/\//i,
    /@import\s+(?:url\()?\s*['"]?(?:https?:)?\/\//i,
];

const page = html.replace(cdn, '');

for (const re of fetched) {
    const hit = page.match(re);

    if (hit) {
        fail(`${input}: still loads from elsewhere: ${hit[0].slice(0, 120)}`);
    }
}

html = html.replace(cdn, () => `<script>${bundle}</script>`);

fs.writeFileSync(output, html);
const kib = Math.ceil(Buffer.byteLength(html) / 1024);

process.stdout.write(`openapi-docs: ${output} (${kib} KiB, Redoc ${version} `
                     + 'inline)\n');
