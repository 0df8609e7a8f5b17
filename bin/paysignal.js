#!/usr/bin/env node
// The `paysignal` command. Plain JavaScript that any Node can parse, so that on a Node older than
// package.json's `engines` it stops with a message naming both versions instead of a syntax error.
//
// From a clone of the repository it runs the TypeScript sources (type stripping, no build step); in
// an installed package, which ships no sources, it runs the compiled JavaScript in dist/. Deciding by
// whether the sources are there (rather than whether dist/ is) means a stale dist/ left in a clone by
// `npm pack` can never shadow the code being worked on.
import { existsSync, readFileSync } from 'node:fs';
import module from 'node:module';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const required = /^>=\s*(\d+)/.exec(pkg.engines.node);
const found = Number(process.versions.node.split('.')[0]);
if (found < Number(required[1])) {
  process.stderr.write(
    `paysignal ${pkg.version} needs Node.js ${required[1]} or newer (engines: "${pkg.engines.node}"), ` +
      `but ${process.execPath} is Node.js ${process.version}. Install Node.js ${required[1]} LTS and run it again.\n`,
  );
  process.exit(1);
}

// Compiled code (from the sources, type-stripped code too) is kept between runs in Node's compile
// cache, so a command's startup, and each worker thread's, skips most of its compiling. Worker threads
// read the cache's place from their environment. NODE_COMPILE_CACHE names the directory (default: in
// the OS temporary directory); NODE_DISABLE_COMPILE_CACHE=1 turns it off.
const compileCache = module.enableCompileCache();
if (compileCache.directory !== undefined) process.env.NODE_COMPILE_CACHE = compileCache.directory;

const sources = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(sources) ? sources.href : new URL('../dist/cli/main.js', import.meta.url).href);
