"""CLIP-style byte-level BPE learned from a small caption corpus: the byte-to-unicode map and a greedy
merge learner with CLIP's end-of-word marker. Used by the thumbnail model and the tiny-SD fixture."""
import collections


def bytes_to_unicode():
    """GPT-2/CLIP reversible byte -> printable unicode map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def learn_bpe(lines, merges_wanted, words_of=lambda line: line.lower().split()):
    """Learns merges_wanted merges greedily by pair frequency over the words of lines (words_of splits a
    line); returns (vocab {token: id}, merges) in CLIP's vocabulary order."""
    byte_enc = bytes_to_unicode()
    words = collections.Counter()
    for line in lines:
        for w in words_of(line):
            chars = [byte_enc[b] for b in w.encode("utf-8")]
            chars[-1] += "</w>"
            words[tuple(chars)] += 1
    merges = []
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        new = collections.Counter()
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += n
        words = new
    vocab = list(byte_enc.values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab)}, merges
