#!/usr/bin/env python3
"""gen_mcubes_tables.py - generate engine/measure/tg_mcubes_tables.h (marching-cubes case tables).

The tables are derived here from first principles, not copied from any implementation:

  * For each of the 256 corner sign configurations, every cube face whose diagonal corners share a sign
    and whose adjacent corners differ is *ambiguous*. A decision bit per ambiguous face says whether the
    positive corners of that face are joined across it (the asymptotic decider of Nielsen & Hamann 1991,
    evaluated at run time) or separated.
  * Given the face decisions, the iso-contour on each face is a set of segments between edge crossings
    (marching squares). The segments are oriented with the positive side on their left seen from outside
    the cube and chained into closed loops on the cube's surface.
  * A loop bounds a disc. Where two loops bound caps (regions of the cube surface bounded by one loop) of
    the same sign, the trilinear interpolant may join those caps through the cube's interior (Lewiner et al.
    2003, "interior ambiguity"): then the two discs are replaced by a tube. Two single corners on a common
    face never tunnel (case 3), and in the self-complementary configurations with four positive corners only
    positive caps are tested (cases 10, 12, 13 test the caps their complement would see as negative). The
    run time takes Lewiner's interior test (see interior_tube): on the plane of the body saddle when both caps
    have the same size (cases 4 and 10), otherwise on the plane through the crossing of a reference edge that
    leaves a corner of the smaller cap and lies on the most ambiguous faces (cases 6, 7, 12, 13); the caps are
    joined when their sign holds the slice together. The table holds one tiling per outcome.
  * Discs: 3..7 vertices without inner vertices; a loop of 6 or 7 vertices that crosses two joined ambiguous
    faces is a zigzag strip between the two chains the crossings separate (Lewiner's 3.2, 6.2, 7.2 tilings),
    other 4..7-gons take the triangulation of greatest area on the binary geometry (Lewiner's tiles of cases
    5, 9, 11, 12, 14 are those); loops of 8 or more vertices are fanned around the cube centre (vertex 12),
    as in Lewiner's 7.3, 10.2, 12.2, 13.3 and 13.4. A tube is a strip (each loop's steps interleaved so the
    strip never closes early) of least area, except a tube between loops of 3 and 4 vertices with one
    ambiguous face (case 6.1.2), which goes through the cube centre: one strip triangle joins the 3-loop
    vertex and the 4-loop segment farthest from the ambiguous face, two more close the strip, the remaining
    hexagon is fanned around the centre.
  * Every tiling is checked: its boundary is exactly its loops, each inner edge is used once in each direction.
    On binary data (corner values 0/1, level 0.5) the areas of all 254 non-empty configurations equal those
    of scikit-image's marching_cubes (checked once against scikit-image 0.19.3 by the author; not a build step).
  * The classic table (Lorensen & Cline 1987, in the form distributed with Lewiner's code and used by
    scikit-image's method="lorensen") takes no decisions: every ambiguous face separates its positive
    corners, and there are no tubes. (The 1987 paper's complement symmetry, which leaves holes, is not
    reproduced; this form is hole-free but resolves every ambiguity the same way.)
  * A 256-entry table for binary data has every decision taken: on an ambiguous face of binary data the saddle
    value equals the level exactly, and Lewiner's face test then joins the positive corners (it returns the
    "saddle above the level" answer on a tie; this is what scikit-image does); the interior decisions are
    the interior test itself evaluated on corner values +-1/2 (values at the level count as positive and
    the reference-edge plane sits DBL_EPSILON towards the positive end, as in the paper's implementation).

Numbering (the engine's, see tg_mcubes.c): corner c has position (c&1, c>>1&1, c>>2&1) in (x, y, z);
edge 4*d + u + 2*v runs along axis d from the corner whose two other coordinates are (u, v) (lower axis
first); vertex 12 is the cube centre. Triangles are listed with outward normals (from the positive side
towards the negative side, right-handed).

Usage: python3 tools/gen_mcubes_tables.py > engine/measure/tg_mcubes_tables.h
"""
import itertools
import sys

import numpy as np

CORNER = [np.array([c & 1, (c >> 1) & 1, (c >> 2) & 1], float) for c in range(8)]


def other_axes(d):
    return [a for a in range(3) if a != d]


def edge_id(a, b):
    x = a ^ b
    d = {1: 0, 2: 1, 4: 2}[x]
    lo = a & b
    p, q = other_axes(d)
    return 4 * d + ((lo >> p) & 1) + 2 * ((lo >> q) & 1)


EDGE_CORNERS = [None] * 12
for a in range(8):
    for d in range(3):
        if not (a >> d) & 1:
            EDGE_CORNERS[edge_id(a, a | (1 << d))] = (a, a | (1 << d))

VPOS = [0.5 * (CORNER[a] + CORNER[b]) for a, b in EDGE_CORNERS] + [np.array([0.5, 0.5, 0.5])]


def face_cycle(f):
    d, s = f // 2, f % 2
    p, q = other_axes(d)
    base = s << d
    return [base, base | (1 << p), base | (1 << p) | (1 << q), base | (1 << q)]


def face_normal(f):
    d, s = f // 2, f % 2
    n = np.zeros(3)
    n[d] = 1.0 if s else -1.0
    return n


def positive(cfg, c):
    return (cfg >> c) & 1


def ambiguous_faces(cfg):
    out = []
    for f in range(6):
        cy = face_cycle(f)
        sg = [positive(cfg, c) for c in cy]
        if sg[0] == sg[2] and sg[1] == sg[3] and sg[0] != sg[1]:
            out.append(f)
    return out


def face_segments(cfg, f, join_positive):
    """Oriented segments (vertex ids) on face f; positive side on the left seen from outside."""
    cy = face_cycle(f)
    sg = [positive(cfg, c) for c in cy]
    e = [edge_id(cy[i], cy[(i + 1) % 4]) for i in range(4)]
    crossed = [i for i in range(4) if sg[i] != sg[(i + 1) % 4]]
    segs = []
    if len(crossed) == 2:
        segs.append((e[crossed[0]], e[crossed[1]], None))
    elif len(crossed) == 4:
        cut_sign = 0 if join_positive else 1
        for j in range(4):
            if sg[j] == cut_sign:
                segs.append((e[(j - 1) % 4], e[j], cy[j]))
    n = face_normal(f)
    out = []
    for p, q, cut in segs:
        P, Q = VPOS[p], VPOS[q]
        left = np.cross(n, Q - P)
        mid = 0.5 * (P + Q)
        if cut is None:
            # any corner of the face not on the segment tells the side
            c = cy[0]
        else:
            c = cut
        side = np.dot(left, CORNER[c] - mid)
        assert abs(side) > 1e-9
        want_left = positive(cfg, c) == 1
        if (side > 0) != want_left:
            p, q = q, p
        out.append((p, q, f))
    return out


def corner_regions(cfg, join_bits):
    """Connected regions of same-sign corners on the cube surface. join_bits: face -> join positive."""
    parent = list(range(8))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    for a, b in EDGE_CORNERS:
        if positive(cfg, a) == positive(cfg, b):
            union(a, b)
    for f, jp in join_bits.items():
        cy = face_cycle(f)
        pos_diag = (cy[0], cy[2]) if positive(cfg, cy[0]) else (cy[1], cy[3])
        neg_diag = (cy[1], cy[3]) if positive(cfg, cy[0]) else (cy[0], cy[2])
        union(*(pos_diag if jp else neg_diag))
    return [find(c) for c in range(8)]


def loops_of(cfg, join_bits):
    segs = []
    for f in range(6):
        segs += face_segments(cfg, f, join_bits.get(f, True))
    nxt = {}
    for p, q, f in segs:
        assert p not in nxt, (cfg, join_bits)
        nxt[p] = (q, f)
    loops, seen = [], set()
    for p, _, _ in segs:
        if p in seen:
            continue
        loop, faces, v = [], [], p
        while v not in seen:
            seen.add(v)
            loop.append(v)
            faces.append(nxt[v][1])
            v = nxt[v][0]
        loops.append((loop, faces))
    return loops


def loop_sides(cfg, join_bits, loop):
    """(positive region, negative region) on the two sides of a loop."""
    reg = corner_regions(cfg, join_bits)
    verts, faces = loop
    pos, neg = set(), set()
    for i, f in enumerate(faces):
        p, q = verts[i], verts[(i + 1) % len(verts)]
        cy = face_cycle(f)
        n = face_normal(f)
        P, Q = VPOS[p], VPOS[q]
        left = np.cross(n, Q - P)
        mid = 0.5 * (P + Q)
        for c in cy:
            # corners adjacent to the segment: on the same side and not cut off elsewhere
            s = np.dot(left, CORNER[c] - mid)
            if positive(cfg, c) and s > 0:
                pos.add(reg[c])
            if not positive(cfg, c) and s < 0:
                neg.add(reg[c])
    # a segment's side may see two corners of one region only
    assert len(pos) == 1 and len(neg) == 1, (cfg, join_bits, loop, pos, neg)
    return pos.pop(), neg.pop()


def tri_area(a, b, c):
    return 0.5 * np.linalg.norm(np.cross(VPOS[b] - VPOS[a], VPOS[c] - VPOS[a]))


def tiling_area(tris):
    return sum(tri_area(*t) for t in tris)


def polygon_triangulations(poly):
    """All triangulations of a polygon (vertex ids in loop order); triangles keep the loop's order."""
    n = len(poly)
    if n == 3:
        return [[tuple(poly)]]
    out = []
    for k in range(1, n - 1):
        left, right = poly[0:k + 1], poly[k:]
        for tl in (polygon_triangulations(left) if len(left) >= 3 else [[]]):
            for tr in (polygon_triangulations(right) if len(right) >= 3 else [[]]):
                out.append(tl + tr + [(poly[0], poly[k], poly[-1])])
    return out


def chain_strip(a, b):
    """Zigzag strip between open chains a (walked forwards) and b (walked backwards), with the bridges
    a[0]-b[0] and a[-1]-b[-1]; the longer chain advances first, then they alternate."""
    tris, i, j = [], 0, 0
    turn_a = len(a) >= len(b) if len(a) != len(b) else None
    out = []
    for first_a in ([turn_a] if turn_a is not None else [True, False]):
        tris, i, j, ta = [], 0, 0, first_a
        while i < len(a) - 1 or j < len(b) - 1:
            if (ta and i < len(a) - 1) or j >= len(b) - 1:
                tris.append((a[i], a[i + 1], b[j]))
                i += 1
            else:
                tris.append((b[j + 1], b[j], a[i]))
                j += 1
            ta = not ta
        out.append(tris)
    return max(out, key=tiling_area)


def disc_tiling(loop, bridges):
    """Triangles of the disc bounded by loop. bridges: indices k of loop segments loop[k] -> loop[k+1]
    that lie on joined ambiguous faces."""
    n = len(loop)
    if n >= 8:
        return [(loop[i], loop[(i + 1) % n], 12) for i in range(n)]
    if len(bridges) == 2 and n > 5:
        k0, k1 = bridges
        # chain a runs from the end of bridge k0 to the start of bridge k1, chain b from the end of k1 to the start of k0
        a = [loop[(k0 + 1 + m) % n] for m in range((k1 - k0) % n)]
        b = [loop[(k1 + 1 + m) % n] for m in range((k0 - k1) % n)]
        # chain_strip walks a forwards and b backwards from the bridge a[0]-b[-1]
        return chain_strip(a, b[::-1])
    if n == 3:
        return [tuple(loop)]
    best, key = None, None
    for tris in polygon_triangulations(loop):
        k = (-round(tiling_area(tris), 9), sorted(tuple(sorted(t)) for t in tris))
        if key is None or k < key:
            best, key = tris, k
    return best


def tube_strip(l1, l2):
    """Strip between loop l1 (walked forwards) and loop l2 (walked backwards): of all the strips (every start
    on l2, every interleaving of the two loops' steps) that never return to their first edge early (no loop
    completes a full turn while the other stands still), the one of least area on the binary geometry."""
    n, m = len(l1), len(l2)
    best, key = None, None
    for j0 in range(m):
        for a_steps in itertools.combinations(range(n + m), n):
            seq = [k in a_steps for k in range(n + m)]
            runs_ok, run, prev = True, 0, None
            for x in seq:
                run = run + 1 if x == prev else 1
                prev = x
                if run >= (n if x else m):
                    runs_ok = False
            if not runs_ok:
                continue
            i, j, tris = 0, j0, []
            for x in seq:
                if x:
                    tris.append((l1[i % n], l1[(i + 1) % n], l2[j % m]))
                    i += 1
                else:
                    tris.append((l2[(j - 1) % m], l2[j % m], l1[i % n]))
                    j -= 1
            k = (round(tiling_area(tris), 9), j0, seq)
            if key is None or k < key:
                best, key = tris, k
    return best


def tube_centre(l1, l2, amb_face):
    """Tube between a 4-loop l1 and a 3-loop l2 through the cube centre (Lewiner's 6.1.2, 9 triangles):
    a strip triangle joins the l2 vertex and the l1 segment farthest from the ambiguous face, two more
    close the strip, and the remaining hexagon is fanned around the centre."""
    d, s = amb_face // 2, amb_face % 2
    best, key = None, None
    for i in range(len(l1)):
        for j in range(len(l2)):
            p, q = l1[i], l1[(i + 1) % len(l1)]
            r, nxt, prv = l2[j], l2[(j + 1) % len(l2)], l2[(j - 1) % len(l2)]
            tris = [(r, nxt, p), (p, q, r), (prv, r, q)]
            chain, k = [q], (i + 1) % len(l1)
            while l1[k] != p:
                k = (k + 1) % len(l1)
                chain.append(l1[k])
            poly = chain + [nxt, prv]
            tris += [(poly[m], poly[(m + 1) % len(poly)], 12) for m in range(len(poly))]
            cen = (VPOS[p] + VPOS[q] + VPOS[r]) / 3.0
            dist = abs(cen[d] - s)
            kk = (-round(dist, 9), -round(tiling_area(tris), 9))
            if key is None or kk < key:
                best, key = tris, kk
    return best


FLT_EPS = np.spacing(1.0)  # DBL_EPSILON, the epsilon of the paper's implementation as scikit-image runs it


def slice_positive_joined(A, B, C, D):
    """Whether the positive corners of a slice (values A, B, C, D in cyclic order) are joined; values at the
    level count as positive and the diagonal cases use the asymptotic decider, as Lewiner's interior test."""
    test = (A >= 0) | (B >= 0) << 1 | (C >= 0) << 2 | (D >= 0) << 3
    if test in (7, 11, 13, 14, 15):
        return True
    if test == 5:
        return not (A * C - B * D < FLT_EPS)
    if test == 10:
        return not (A * C - B * D >= FLT_EPS)
    return False


# Lewiner's corner order v0..v7 in this file's corner numbering (for the z-plane test formula)
LV = [0, 1, 3, 2, 4, 5, 7, 6]


def interior_tube(vals, variant, ref_edge, cap_sign):
    """The interior test: True when the two caps of sign cap_sign are joined through the cube."""
    if variant == 0:
        v = [vals[LV[k]] for k in range(8)]
        a = (v[4] - v[0]) * (v[6] - v[2]) - (v[7] - v[3]) * (v[5] - v[1])
        b = v[2] * (v[4] - v[0]) + v[0] * (v[6] - v[2]) - v[1] * (v[7] - v[3]) - v[3] * (v[5] - v[1])
        t = -b / (2 * a + FLT_EPS)
        if t < 0 or t > 1:
            pj = False
        else:
            pj = slice_positive_joined(v[0] + (v[4] - v[0]) * t, v[3] + (v[7] - v[3]) * t,
                                       v[2] + (v[6] - v[2]) * t, v[1] + (v[5] - v[1]) * t)
    else:
        ca, cb = EDGE_CORNERS[ref_edge]
        d = {1: 0, 2: 1, 4: 2}[ca ^ cb]
        t = vals[ca] / (vals[ca] - vals[cb] + FLT_EPS)
        p, q = other_axes(d)
        ring = [0, 1 << p, (1 << p) | (1 << q), 1 << q]  # cyclic offsets in the slice
        base = ca & ~((1 << p) | (1 << q))
        pa = ca ^ base  # offset of the reference edge within the ring
        k0 = ring.index(pa)
        vs = []
        for m in range(4):
            o = ring[(k0 + m) % 4]
            c0 = base | o
            c1 = c0 | (1 << d)
            vs.append(0.0 if m == 0 else vals[c0] + (vals[c1] - vals[c0]) * t)
        pj = slice_positive_joined(*vs)
    return pj if cap_sign else not pj


def choose_test(cfg, join, ca, cb):
    """Variant and reference edge of the interior test between caps with corner lists ca, cb."""
    if len(ca) == len(cb):
        return 0, 0
    small = ca if len(ca) < len(cb) else cb
    best, key = None, None
    for c in small:
        for d in range(3):
            o = c ^ (1 << d)
            if positive(cfg, o) == positive(cfg, c):
                continue
            e = edge_id(min(c, o), max(c, o))
            namb = sum(1 for f in join if edge_on_face(e, f))
            k = (-namb, e)
            if key is None or k < key:
                best, key = e, k
    return 1, best


def edge_on_face(e, f):
    a, b = EDGE_CORNERS[e]
    d, s = f // 2, f % 2
    return ((a >> d) & 1) == s and ((b >> d) & 1) == s


def tube_possible(cfg, sign, ca, cb):
    """Which cap pairs get an interior test (Lewiner's cases 4, 6.1, 7.4, 10.1, 12.1, 13.5):
    two single corners on a common face never tunnel (case 3); in the self-complementary configurations
    with four positive corners only the positive caps are tested (the negative ones are their complement's
    positive caps, tested there)."""
    if len(ca) == 1 and len(cb) == 1 and bin(ca[0] ^ cb[0]).count('1') == 2:
        return False
    if bin(cfg).count('1') == 4 and not sign:
        return False
    return True


def config_entries(cfg):
    amb = ambiguous_faces(cfg)
    result = []
    for bits in range(1 << len(amb)):
        join = {f: bool((bits >> k) & 1) for k, f in enumerate(amb)}
        loops = loops_of(cfg, join)
        sides = [loop_sides(cfg, join, lp) for lp in loops]
        reg = corner_regions(cfg, join)
        bound = {}
        for li, (pr, nr) in enumerate(sides):
            bound.setdefault(pr, []).append(li)
            bound.setdefault(nr, []).append(li)
        cands = []
        for l1 in range(len(loops)):
            for l2 in range(l1 + 1, len(loops)):
                for sign in (1, 0):
                    r1, r2 = sides[l1][0 if sign else 1], sides[l2][0 if sign else 1]
                    if r1 != r2 and bound[r1] == [l1] and bound[r2] == [l2]:
                        ca = [c for c in range(8) if reg[c] == r1]
                        cb = [c for c in range(8) if reg[c] == r2]
                        if not tube_possible(cfg, sign, ca, cb):
                            continue
                        variant, edge = choose_test(cfg, join, ca, cb)
                        cands.append((l1, l2, sign, ca, cb, variant, edge))
        discs = []
        for lp in loops:
            br = [k for k, f in enumerate(lp[1]) if f in join]
            discs.append(disc_tiling(lp[0], br))
        tilings = [sum(discs, [])]
        for l1, l2, sign, ca, cb, variant, edge in cands:
            a, b = loops[l1][0], loops[l2][0]
            if sorted((len(a), len(b))) == [3, 4] and len(amb) == 1:
                big, small = (a, b) if len(a) == 4 else (b, a)
                tube = tube_centre(big, small, amb[0])
            else:
                tube = tube_strip(a, b)
            rest = sum((discs[k] for k in range(len(loops)) if k not in (l1, l2)), [])
            tilings.append(tube + rest)
        result.append(dict(join=join, loops=loops, cands=cands, tilings=tilings))
    return amb, result


def binary_choice(cfg, res, amb):
    """Tiling index for binary data: every ambiguous face joins its positive corners; interior test on +-1/2."""
    e = res[(1 << len(amb)) - 1]
    vals = [0.5 if positive(cfg, c) else -0.5 for c in range(8)]
    for k, (l1, l2, sign, ca, cb, variant, edge) in enumerate(e['cands']):
        if interior_tube(vals, variant, edge, sign):
            return (1 << len(amb)) - 1, k + 1
    return (1 << len(amb)) - 1, 0


def classic_tiling(cfg):
    amb = ambiguous_faces(cfg)
    join = {f: False for f in amb}
    loops = loops_of(cfg, join)
    out = []
    for lp in loops:
        br = [k for k, f in enumerate(lp[1]) if f in join]
        out += disc_tiling(lp[0], br)
    return out


def trilinear_grad(cfg, p):
    g = np.zeros(3)
    for c in range(8):
        val = 0.5 if positive(cfg, c) else -0.5
        w = [p[k] if (c >> k) & 1 else 1 - p[k] for k in range(3)]
        dw = [1.0 if (c >> k) & 1 else -1.0 for k in range(3)]
        g += val * np.array([dw[0] * w[1] * w[2], w[0] * dw[1] * w[2], w[0] * w[1] * dw[2]])
    return g


def orientation_sign():
    """+1 if loop-ordered triangles have outward normals (towards decreasing f), -1 otherwise."""
    votes = 0
    for cfg in range(1, 255):
        amb, res = config_entries(cfg)
        fb, k = binary_choice(cfg, res, amb)
        for t in res[fb]['tilings'][k]:
            P = [VPOS[v] for v in t]
            n = np.cross(P[1] - P[0], P[2] - P[0])
            g = trilinear_grad(cfg, (P[0] + P[1] + P[2]) / 3)
            votes += 1 if np.dot(n, g) < 0 else -1
    return 1 if votes > 0 else -1


def emit(out):
    for cfg in range(1, 255):
        amb, res = config_entries(cfg)
        for r in res:
            for t in r['tilings']:
                assert check_tiling(t, r['loops']), cfg
        assert check_tiling(classic_tiling(cfg), loops_of(cfg, {f: False for f in amb})), cfg
    flip = orientation_sign() < 0
    tris, tiling_off, tiling_n = [], [], []

    def add_tiling(t):
        tiling_off.append(len(tris))
        tiling_n.append(len(t))
        for a, b, c in t:
            tris.append((a, c, b) if flip else (a, b, c))
        return len(tiling_off) - 1

    amb_mask, cfg_base, row_cand, row_ncand, row_tiling = [], [], [], [], []
    cands, binary, classic = [], [], []
    for cfg in range(256):
        amb, res = config_entries(cfg) if 0 < cfg < 255 else ([], [dict(cands=[], tilings=[[]])])
        amb_mask.append(sum(1 << f for f in amb))
        cfg_base.append(len(row_cand))
        first_tiling_of_row = []
        for e in res:
            row_cand.append(len(cands))
            row_ncand.append(len(e['cands']))
            for (l1, l2, sign, ca, cb, variant, edge) in e['cands']:
                cands.append((variant, edge, sign, sum(1 << c for c in ca), sum(1 << c for c in cb)))
            base = None
            for t in e['tilings']:
                idx = add_tiling(t)
                base = idx if base is None else base
            row_tiling.append(base)
            first_tiling_of_row.append(base)
        if 0 < cfg < 255:
            fb, k = binary_choice(cfg, res, amb)
            binary.append(first_tiling_of_row[fb] + k)
            classic.append(add_tiling(classic_tiling(cfg)))
        else:
            binary.append(first_tiling_of_row[0])
            classic.append(first_tiling_of_row[0])

    def arr(ctype, name, vals, per_line=16):
        out.write("static const %s %s[%d] = {\n" % (ctype, name, len(vals)))
        for i in range(0, len(vals), per_line):
            out.write("    " + ", ".join(str(v) for v in vals[i:i + per_line]) + ",\n")
        out.write("};\n\n")

    out.write("/* tg_mcubes_tables.h - marching-cubes case tables, GENERATED by tools/gen_mcubes_tables.py; do not edit.\n"
              " * How they are derived: see the generator's docstring. Used only by tg_mcubes.c.\n"
              " *\n"
              " * Corner c sits at (c&1, c>>1&1, c>>2&1); edge 4*d+u+2*v runs along axis d; vertex 12 is the cube centre.\n"
              " * Faces: 2*d+s is the face with coordinate d equal to s. A configuration's ambiguous faces are the set bits of\n"
              " * tg_mc_amb_faces[cfg]; its decision rows start at tg_mc_cfg_base[cfg], one per assignment of the ambiguous\n"
              " * faces (bit k = the k-th ambiguous face in increasing order joins its positive corners). A row has\n"
              " * tg_mc_row_ncand candidates for an interior tube (tg_mc_cand: variant 0 = plane of Lewiner's cases 4/10,\n"
              " * 1 = plane through the crossing on reference edge; edge; sign of the caps; corner masks of both caps);\n"
              " * its tilings are tg_mc_row_tiling[row] (no tube) and tg_mc_row_tiling[row] + 1 + i (tube of candidate i).\n"
              " * A tiling is tg_mc_tiling_n triangles from tg_mc_tris[tg_mc_tiling_off]; triangles are counter-clockwise\n"
              " * seen from the negative side (normals point from the positive side to the negative side).\n"
              " */\n#ifndef TG_MCUBES_TABLES_H\n#define TG_MCUBES_TABLES_H\n\n#include <stdint.h>\n\n")
    out.write("#define TG_MC_NROWS %d\n#define TG_MC_NTILINGS %d\n#define TG_MC_NTRIS %d\n#define TG_MC_MAXTRI %d\n\n"
              % (len(row_cand), len(tiling_off), len(tris), max(tiling_n)))
    arr("uint8_t", "tg_mc_amb_faces", amb_mask)
    arr("uint16_t", "tg_mc_cfg_base", cfg_base)
    arr("uint16_t", "tg_mc_row_cand", row_cand)
    arr("uint8_t", "tg_mc_row_ncand", row_ncand)
    arr("uint16_t", "tg_mc_row_tiling", row_tiling)
    out.write("static const uint8_t tg_mc_cand[%d][5] = {\n" % max(1, len(cands)))
    for c in cands:
        out.write("    {%d, %d, %d, %d, %d},\n" % c)
    out.write("};\n\n")
    arr("uint16_t", "tg_mc_tiling_off", tiling_off)
    arr("uint8_t", "tg_mc_tiling_n", tiling_n)
    out.write("static const uint8_t tg_mc_tris[%d][3] = {\n" % len(tris))
    for i in range(0, len(tris), 8):
        out.write("    " + " ".join("{%d, %d, %d}," % t for t in tris[i:i + 8]) + "\n")
    out.write("};\n\n")
    arr("uint16_t", "tg_mc_binary", binary)
    arr("uint16_t", "tg_mc_classic", classic)
    out.write("#endif\n")


def check_tiling(tris, loops, tube_pairs=()):
    """The directed boundary of a tiling must be exactly its loops' segments; inner edges used both ways."""
    from collections import Counter
    cnt = Counter()
    for a, b, c in tris:
        for e in ((a, b), (b, c), (c, a)):
            cnt[e] += 1
    boundary = set()
    for verts, _ in loops:
        for i in range(len(verts)):
            boundary.add((verts[i], verts[(i + 1) % len(verts)]))
    for e, k in cnt.items():
        if k != 1:
            return False
        if e not in boundary and (e[1], e[0]) not in cnt:
            return False
    return all(e in cnt for e in boundary)


if __name__ == "__main__":
    emit(sys.stdout)
