#!/usr/bin/env python3
"""Summarizes several runs of compare-with-node-seal.sh (folders run1, run2, …) into Markdown tables:
for each operation the median over runs of Veil's median, node-seal's median, and of the per-run ratio."""
import json, statistics, sys, glob, os

root = sys.argv[1] if len(sys.argv) > 1 else 'bench-results'
runs = sorted(glob.glob(os.path.join(root, 'run*')))
native = {'N=8192': {'keygen_relin':5394,'keygen_galois_pow2':132890,'encode':551,'encrypt_pk':3490,'decrypt':132,'decode':990,'add':63.5,'multiply_plain':173,'multiply':370,'relinearize':2493,'rescale_to_next':668,'rotate_vector_1':2529,'mul+relin+rescale':3546},
          'N=16384': {'keygen_relin':47358,'keygen_galois_pow2':1245141,'encode':2293,'encrypt_pk':13069,'decrypt':624,'decode':6558,'add':295,'multiply_plain':811,'multiply':1718,'relinearize':18129,'rescale_to_next':3553,'rotate_vector_1':18396,'mul+relin+rescale':23620}}
goal = {'relinearize':0.45,'rotate_vector_1':0.45,'mul+relin+rescale':0.45,'multiply':0.33,'multiply_plain':0.33,'encode':0.6,'encrypt_pk':0.6,'decrypt':0.6,'decode':0.6,'rescale_to_next':0.6,'keygen_relin':0.6,'keygen_galois_pow2':0.6,'add':None}
ops = list(goal)
ops = ['keygen_relin','keygen_galois_pow2','encode','encrypt_pk','decrypt','decode','add','multiply_plain','multiply','relinearize','rescale_to_next','rotate_vector_1','mul+relin+rescale']

def peer_of(path):
    for line in reversed(open(path).read().splitlines()):
        if line.startswith('{') and '"sets"' in line: return json.loads(line)
    raise SystemExit(f'{path}: no JSON')

data = [(peer_of(os.path.join(r, 'node-seal.txt')), json.load(open(os.path.join(r, 'veil-t1.json'))), json.load(open(os.path.join(r, 'veil-t2.json')))) for r in runs]
med = statistics.median
def f(x): return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"
p0, v0, _ = data[0]
print(f"{len(runs)} runs; each: node-seal {p0['node_seal']} (SEAL 4.1.2 as WebAssembly, Node {p0['node']}) then Veil (.NET {v0['dotnet']}) with 1 and 2 threads, {v0['reps']} repetitions per operation. Figures are medians over the runs of each run's median; ratios are medians of the per-run ratios.\n")
for tag in ['N=8192', 'N=16384']:
    print(f"### {tag}\n")
    print("| operation | Veil 1 thread µs | Veil 2 threads µs | node-seal µs | Veil/node-seal, 1 thread (runs) | goal | Veil/node-seal, 2 threads | native SEAL µs (anchor) | Veil 1 thread / native |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for op in ops:
        a = [v1['sets'][tag][op]['median_us'] for _, v1, _ in data]
        b = [v2['sets'][tag][op]['median_us'] for _, _, v2 in data]
        p = [pe['sets'][tag][op]['median_us'] for pe, _, _ in data]
        r1 = [x / y for x, y in zip(a, p)]; r2 = [x / y for x, y in zip(b, p)]
        g = goal[op]; r = med(r1)
        mark = '' if g is None else (' ✓' if r <= g else ' ✗')
        runs_text = ', '.join(f'{x:.2f}' for x in r1)
        print(f"| {op} | {f(med(a))} | {f(med(b))} | {f(med(p))} | **{r:.2f}**{mark} ({runs_text}) | {'–' if g is None else '≤ ' + str(g)} | {med(r2):.2f} | {f(native[tag][op])} | {med(a) / native[tag][op]:.2f} |")
    prec = [v1['sets'][tag]['precision_mul_relin_rescale']['worst_bits'] for _, v1, _ in data]
    pprec = [pe['sets'][tag]['precision_mul_relin_rescale']['worst_bits'] for pe, _, _ in data]
    h1 = [v1['sets'][tag]['hoisted_over_separate'] for _, v1, _ in data]
    h2 = [v2['sets'][tag]['hoisted_over_separate'] for _, _, v2 in data]
    print(f"\nPrecision of x·y after relinearize + rescale, worst of 10 trials: Veil {', '.join(f'{x:.2f}' for x in prec)} bits; node-seal {', '.join(f'{x:.2f}' for x in pprec)} bits.")
    print(f"Eight hoisted rotations / eight separate ones: 1 thread {', '.join(f'{x:.2f}' for x in h1)}; 2 threads {', '.join(f'{x:.2f}' for x in h2)}.")
    if all('hoisted_over_separate_16' in v1['sets'][tag] for _, v1, _ in data):
        k1 = [v1['sets'][tag]['hoisted_over_separate_16'] for _, v1, _ in data]
        k2 = [v2['sets'][tag]['hoisted_over_separate_16'] for _, _, v2 in data]
        print(f"Sixteen hoisted rotations / sixteen separate ones: 1 thread {', '.join(f'{x:.2f}' for x in k1)}; 2 threads {', '.join(f'{x:.2f}' for x in k2)}.")
    sz = v0['sets'][tag]['sizes']; psz = p0['sets'][tag]['sizes']
    gal = f"; Galois keys (powers of two) {sz['galois_keys']:,} / {psz['galois_keys']:,}" if isinstance(sz['galois_keys'], int) else ''
    print(f"Serialized sizes without compression, Veil / node-seal, bytes: fresh ciphertext {sz['ct_fresh']:,} / {psz['ct_fresh']:,}; fresh secret-key ciphertext (seeded) {sz['ct_fresh_symmetric_seeded']:,}; public key {sz['pk']:,} / {psz['pk']:,}; relinearization key {sz['relin_keys']:,} / {psz['relin_keys']:,}{gal}.\n")
pw1 = [v1['peak_working_set_bytes'] for _, v1, _ in data]; pw2 = [v2['peak_working_set_bytes'] for _, _, v2 in data]
print(f"Peak working set of a whole `veil bench ckks` process (both sets, all keys): 1 thread {med(pw1) / 2**20:,.0f} MiB, 2 threads {med(pw2) / 2**20:,.0f} MiB (medians over runs).")
