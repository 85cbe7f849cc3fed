/* The decoder's custom ops for ONNX Runtime's CPU provider (a custom-op library; see snake_kernel.py,
 * which compiles it): kokoro_trt.AdaSnake, the generator's instance norm and Snake in one multi-threaded
 * pass, and kokoro_trt.SpectralJoin, the last copy of the frequency-domain convolutions (spectral_conv.py),
 * described at the end.
 *
 *   y = u + sin(u)^2,   u = scale[c] * (x - mean_c) / sqrt(var_c + 1e-5) + bias[c]
 *
 * over x of shape [N, C, L] (or [N, C, D1, D2, ...]), mean and variance per (n, c) row. It replaces
 * the exported graph's InstanceNormalization -> Sin -> Mul -> Add (export/snake.py folds alpha and the
 * AdaIN affine into scale and bias). ONNX Runtime runs Sin and InstanceNormalization on one thread;
 * here each row is a task on the session's intra-op thread pool, the sine is a vectorised polynomial,
 * and the row is read twice and written once instead of seven passes. Rows are independent, so the
 * result does not depend on the thread count.
 *
 * Only the few ONNX Runtime C API entries used are declared here, by their fixed place in OrtApi (the
 * table only ever grows, so an index stays valid in every later release).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define API_VERSION 17   /* the first with KernelContext_ParallelFor (ONNX Runtime 1.17) */
#define OP_VERSION 13    /* the OrtCustomOp layout declared below */
#define EPSILON 1e-5
#define BLOCK 4096
#define LANES 16
#define MAX_RANK 8
#define POLY_LIMIT 8192.0f /* beyond this |u| the reduction below loses bits: use double sin() */

typedef struct OrtStatus OrtStatus;
typedef struct OrtValue OrtValue;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtCustomOpDomain OrtCustomOpDomain;
typedef struct OrtTensorTypeAndShapeInfo OrtShape;
typedef void *const *OrtApiTable;

typedef struct OrtApiBase {
    OrtApiTable (*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;

typedef struct OrtCustomOp OrtCustomOp;
struct OrtCustomOp {
    uint32_t version;
    void *(*CreateKernel)(const OrtCustomOp *op, OrtApiTable api, const OrtKernelInfo *info);
    const char *(*GetName)(const OrtCustomOp *op);
    const char *(*GetExecutionProviderType)(const OrtCustomOp *op);
    int (*GetInputType)(const OrtCustomOp *op, size_t index);
    size_t (*GetInputTypeCount)(const OrtCustomOp *op);
    int (*GetOutputType)(const OrtCustomOp *op, size_t index);
    size_t (*GetOutputTypeCount)(const OrtCustomOp *op);
    void (*KernelCompute)(void *kernel, OrtKernelContext *context);
    void (*KernelDestroy)(void *kernel);
    int (*GetInputCharacteristic)(const OrtCustomOp *op, size_t index);
    int (*GetOutputCharacteristic)(const OrtCustomOp *op, size_t index);
    int (*GetInputMemoryType)(const OrtCustomOp *op, size_t index);
};

enum { TENSOR_FLOAT = 1, TENSOR_INT64 = 7, REQUIRED = 0, MEM_DEFAULT = 0, ORT_FAIL = 1 };

/* OrtApi entries, by index. */
#define CREATE_STATUS 0
#define CREATE_CUSTOM_OP_DOMAIN 26
#define CUSTOM_OP_DOMAIN_ADD 27
#define ADD_CUSTOM_OP_DOMAIN 28
#define GET_TENSOR_MUTABLE_DATA 51
#define GET_DIMENSIONS_COUNT 61
#define GET_DIMENSIONS 62
#define GET_TENSOR_TYPE_AND_SHAPE 65
#define KERNEL_CONTEXT_GET_INPUT 90
#define KERNEL_CONTEXT_GET_OUTPUT 91
#define RELEASE_STATUS 93
#define RELEASE_TENSOR_TYPE_AND_SHAPE_INFO 99
#define KERNEL_CONTEXT_PARALLEL_FOR 274

typedef OrtStatus *(*CreateStatusFn)(int, const char *);
typedef OrtStatus *(*CreateCustomOpDomainFn)(const char *, OrtCustomOpDomain **);
typedef OrtStatus *(*CustomOpDomainAddFn)(OrtCustomOpDomain *, const OrtCustomOp *);
typedef OrtStatus *(*AddCustomOpDomainFn)(OrtSessionOptions *, OrtCustomOpDomain *);
typedef OrtStatus *(*GetTensorMutableDataFn)(OrtValue *, void **);
typedef OrtStatus *(*GetDimensionsCountFn)(const OrtShape *, size_t *);
typedef OrtStatus *(*GetDimensionsFn)(const OrtShape *, int64_t *, size_t);
typedef OrtStatus *(*GetTensorTypeAndShapeFn)(const OrtValue *, OrtShape **);
typedef OrtStatus *(*KernelContextGetInputFn)(const OrtKernelContext *, size_t, const OrtValue **);
typedef OrtStatus *(*KernelContextGetOutputFn)(OrtKernelContext *, size_t, const int64_t *, size_t, OrtValue **);
typedef void (*ReleaseStatusFn)(OrtStatus *);
typedef void (*ReleaseShapeFn)(OrtShape *);
typedef OrtStatus *(*ParallelForFn)(const OrtKernelContext *, void (*)(void *, size_t), size_t, size_t, void *);

static OrtApiTable api;
#define API(index, type) ((type)api[index])

/* Returns nonzero (and frees the status) when an API call failed. */
static int failed(OrtStatus *status) {
    if (status == NULL) return 0;
    API(RELEASE_STATUS, ReleaseStatusFn)(status);
    return 1;
}

/* -- the arithmetic ------------------------------------------------------------------------------- */

/* sin(u)^2 with u = j*pi/2 + r, |r| <= pi/4 (three-part Cody-Waite reduction), then sin(r)^2 for even
 * j, cos(r)^2 for odd j; minimax polynomials for sin and cos on [-pi/4, pi/4], ~1 ulp. */
static void snake_fast(const float *restrict x, float *restrict y, size_t n, float a, float b) {
    for (size_t i = 0; i < n; i++) {
        float u = x[i] * a + b;
        float j = rintf(u * 0.636619772367581343f);
        float r = ((u - j * 1.5703125f) - j * 4.837512969970703125e-4f) - j * 7.54978995489188216e-8f;
        float r2 = r * r;
        float s = r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
        float c = 1.0f - 0.5f * r2
                  + r2 * r2 * (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
        float q = ((int)j & 1) ? c : s;
        y[i] = u + q * q;
    }
}

static void snake_exact(const float *restrict x, float *restrict y, size_t n, float a, float b) {
    for (size_t i = 0; i < n; i++) {
        float u = x[i] * a + b;
        double s = sin((double)u);
        y[i] = (float)((double)u + s * s);
    }
}

static int in_poly_range(const float *restrict x, size_t n, float a, float b) {
    int out = 0;
    for (size_t i = 0; i < n; i++) out |= !(fabsf(x[i] * a + b) <= POLY_LIMIT); /* NaN counts as out */
    return !out;
}

static void snake_row(const float *x, float *y, size_t n, float scale, float bias) {
    double sums[LANES] = {0}, squared[LANES] = {0}; /* fixed lanes: vectorised, same order every run */
    size_t whole = n - n % LANES;
    for (size_t i = 0; i < whole; i += LANES)
        for (size_t k = 0; k < LANES; k++) {
            double v = x[i + k];
            sums[k] += v;
            squared[k] += v * v;
        }
    for (size_t i = whole; i < n; i++) {
        double v = x[i];
        sums[0] += v;
        squared[0] += v * v;
    }
    double sum = 0.0, squares = 0.0;
    for (size_t k = 0; k < LANES; k++) {
        sum += sums[k];
        squares += squared[k];
    }
    double mean = n ? sum / (double)n : 0.0;
    double var = n ? squares / (double)n - mean * mean : 0.0;
    if (var < 0.0) var = 0.0;
    float a = (float)(scale / sqrt(var + EPSILON));
    float b = (float)(bias - mean * a);
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = n - i < BLOCK ? n - i : BLOCK;
        if (in_poly_range(x + i, m, a, b))
            snake_fast(x + i, y + i, m, a, b);
        else
            snake_exact(x + i, y + i, m, a, b);
    }
}

/* -- the kernel ----------------------------------------------------------------------------------- */

typedef struct {
    const float *x, *scale, *bias;
    float *y;
    size_t channels, length;
} Rows;

static void run_row(void *data, size_t row) {
    const Rows *rows = data;
    size_t c = row % rows->channels, offset = row * rows->length;
    snake_row(rows->x + offset, rows->y + offset, rows->length, rows->scale[c], rows->bias[c]);
}

static void *input_data(OrtKernelContext *context, size_t index, const OrtValue **value) {
    void *data = NULL;
    if (failed(API(KERNEL_CONTEXT_GET_INPUT, KernelContextGetInputFn)(context, index, value))) return NULL;
    if (failed(API(GET_TENSOR_MUTABLE_DATA, GetTensorMutableDataFn)((OrtValue *)*value, &data))) return NULL;
    return data;
}

/* The shape of ``value`` into ``dims`` (at most MAX_RANK); its rank, or 0 when it cannot be read. */
static size_t shape_of(const OrtValue *value, int64_t *dims) {
    OrtShape *shape;
    if (failed(API(GET_TENSOR_TYPE_AND_SHAPE, GetTensorTypeAndShapeFn)(value, &shape))) return 0;
    size_t rank = 0;
    int ok = !failed(API(GET_DIMENSIONS_COUNT, GetDimensionsCountFn)(shape, &rank)) && rank <= MAX_RANK
             && !failed(API(GET_DIMENSIONS, GetDimensionsFn)(shape, dims, rank));
    API(RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, ReleaseShapeFn)(shape);
    return ok ? rank : 0;
}

static float *output_data(OrtKernelContext *context, const int64_t *dims, size_t rank) {
    OrtValue *value;
    void *data = NULL;
    if (failed(API(KERNEL_CONTEXT_GET_OUTPUT, KernelContextGetOutputFn)(context, 0, dims, rank, &value))) return NULL;
    if (failed(API(GET_TENSOR_MUTABLE_DATA, GetTensorMutableDataFn)(value, &data))) return NULL;
    return data;
}

/* Runs task(data, i) for i < count on the session's intra-op threads (in this thread if that fails). */
static void parallel_for(OrtKernelContext *context, void (*task)(void *, size_t), size_t count, void *data) {
    if (failed(API(KERNEL_CONTEXT_PARALLEL_FOR, ParallelForFn)(context, task, count, 0, data)))
        for (size_t i = 0; i < count; i++) task(data, i);
}

/* ONNX Runtime validated the types; the shapes are InstanceNormalization's ([N, C, D1, ...], [C], [C]).
 * A failed API call leaves the output unwritten, which the kernel cannot report in this op version. */
static void compute(void *kernel, OrtKernelContext *context) {
    (void)kernel;
    const OrtValue *x_value, *scale_value, *bias_value;
    Rows rows;
    rows.x = input_data(context, 0, &x_value);
    rows.scale = input_data(context, 1, &scale_value);
    rows.bias = input_data(context, 2, &bias_value);
    if (!rows.x || !rows.scale || !rows.bias) return;
    int64_t dims[MAX_RANK];
    size_t rank = shape_of(x_value, dims);
    if (rank < 3 || !(rows.y = output_data(context, dims, rank))) return;
    rows.channels = (size_t)dims[1];
    rows.length = 1;
    for (size_t axis = 2; axis < rank; axis++) rows.length *= (size_t)dims[axis]; /* [N, C, D1, D2, ...] */
    size_t total = (size_t)dims[0] * rows.channels;
    if (total == 0 || rows.length == 0) return;
    parallel_for(context, run_row, total, &rows);
}

/* -- the block convolutions' last copy ------------------------------------------------------------ *
 *
 * A convolution of x [1, C, T] dilated by d runs in spectral_conv.py on the C*d "sequences" of x: channel c's
 * phase p is x[c, p], x[c, p + d], ... (d = 1: the channel itself), each padded to the same length.
 *
 * SpectralJoin(y, bias [C], length = [T], dilation = [d]) takes y, the sequences' outputs laid out end to
 * end (sequence c * d + p, P samples each), and interleaves the phases back:
 * out[c, t] = y[(c * d + t % d) * P + t / d] + bias[c], out of shape [1, C, T]: one multi-threaded pass
 * where ONNX Runtime ran Slice (and for d > 1 Transpose, Reshape, Slice) and Add, single-threaded. */

static int64_t *int64_input(OrtKernelContext *context, size_t index, size_t count) {
    const OrtValue *value;
    int64_t dims[MAX_RANK];
    int64_t *data = input_data(context, index, &value);
    size_t rank = data ? shape_of(value, dims) : 0, elements = 1;
    for (size_t axis = 0; axis < rank; axis++) elements *= (size_t)dims[axis];
    return data && rank > 0 && elements == count ? data : NULL;
}

typedef struct {
    const float *y, *bias;
    float *out;
    size_t length, dilation, padded;
} Phases;

static void join_channel(void *data, size_t c) {
    const Phases *s = data;
    const float *y = s->y + c * s->dilation * s->padded;
    float *out = s->out + c * s->length;
    float bias = s->bias[c];
    size_t d = s->dilation, whole = s->length / d; /* the samples of every phase, then those of the first few */
    if (d == 1) {
        for (size_t t = 0; t < s->length; t++) out[t] = y[t] + bias;
        return;
    }
    for (size_t m = 0; m < whole; m++)
        for (size_t p = 0; p < d; p++) out[m * d + p] = y[p * s->padded + m] + bias;
    for (size_t t = whole * d; t < s->length; t++) out[t] = y[(t - whole * d) * s->padded + whole] + bias;
}

static void join_compute(void *kernel, OrtKernelContext *context) {
    (void)kernel;
    const OrtValue *y_value, *bias_value;
    Phases s;
    s.y = input_data(context, 0, &y_value);
    s.bias = input_data(context, 1, &bias_value);
    const int64_t *length = int64_input(context, 2, 1), *dilation = int64_input(context, 3, 1);
    int64_t dims[MAX_RANK], bias_dims[MAX_RANK];
    size_t rank = s.y ? shape_of(y_value, dims) : 0, y_size = 1, channels;
    if (!s.bias || !length || !dilation || rank == 0 || shape_of(bias_value, bias_dims) != 1) return;
    channels = (size_t)bias_dims[0];
    for (size_t axis = 0; axis < rank; axis++) y_size *= (size_t)dims[axis];
    if (*length < 0 || *dilation < 1 || channels == 0 || y_size % (channels * (size_t)*dilation)) return;
    s.length = (size_t)*length;
    s.dilation = (size_t)*dilation;
    s.padded = y_size / (channels * s.dilation);
    if ((s.length + s.dilation - 1) / s.dilation > s.padded) return;
    int64_t out_dims[3] = {1, (int64_t)channels, (int64_t)s.length};
    if (!(s.out = output_data(context, out_dims, 3))) return;
    parallel_for(context, join_channel, channels, &s);
}

/* -- registration --------------------------------------------------------------------------------- */

static void *create_kernel(const OrtCustomOp *op, OrtApiTable table, const OrtKernelInfo *info) {
    (void)table, (void)info;
    return (void *)op; /* stateless: any non-NULL pointer */
}
static const char *op_name(const OrtCustomOp *op) { (void)op; return "AdaSnake"; }
static const char *join_name(const OrtCustomOp *op) { (void)op; return "SpectralJoin"; }
static const char *provider(const OrtCustomOp *op) { (void)op; return "CPUExecutionProvider"; }
static int float_type(const OrtCustomOp *op, size_t index) { (void)op, (void)index; return TENSOR_FLOAT; }
static int join_types(const OrtCustomOp *op, size_t index) { (void)op; return index < 2 ? TENSOR_FLOAT : TENSOR_INT64; }
static size_t three(const OrtCustomOp *op) { (void)op; return 3; }
static size_t four(const OrtCustomOp *op) { (void)op; return 4; }
static size_t one(const OrtCustomOp *op) { (void)op; return 1; }
static void destroy(void *kernel) { (void)kernel; }
static int required(const OrtCustomOp *op, size_t index) { (void)op, (void)index; return REQUIRED; }
static int default_memory(const OrtCustomOp *op, size_t index) { (void)op, (void)index; return MEM_DEFAULT; }

static const OrtCustomOp ADA_SNAKE = {
    OP_VERSION, create_kernel, op_name, provider, float_type, three, float_type, one,
    compute, destroy, required, required, default_memory,
};
static const OrtCustomOp SPECTRAL_JOIN = {
    OP_VERSION, create_kernel, join_name, provider, join_types, four, float_type, one,
    join_compute, destroy, required, required, default_memory,
};
static const OrtCustomOp *const OPS[] = {&ADA_SNAKE, &SPECTRAL_JOIN};

/* Called by SessionOptions.register_custom_ops_library; NULL on success. */
OrtStatus *RegisterCustomOps(OrtSessionOptions *options, const OrtApiBase *base) {
    api = base->GetApi(API_VERSION);
    if (api == NULL) { /* older than 1.17: say so through the first API version's CreateStatus */
        OrtApiTable first = base->GetApi(1);
        return ((CreateStatusFn)first[CREATE_STATUS])(ORT_FAIL, "kokoro_trt's custom ops need ONNX Runtime 1.17 or newer");
    }
    OrtCustomOpDomain *domain;
    OrtStatus *status = API(CREATE_CUSTOM_OP_DOMAIN, CreateCustomOpDomainFn)("kokoro_trt", &domain);
    if (status) return status;
    for (size_t k = 0; k < sizeof OPS / sizeof OPS[0]; k++)
        if ((status = API(CUSTOM_OP_DOMAIN_ADD, CustomOpDomainAddFn)(domain, OPS[k]))) return status;
    return API(ADD_CUSTOM_OP_DOMAIN, AddCustomOpDomainFn)(options, domain);
}
