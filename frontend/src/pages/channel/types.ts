// The channel types (spec 4.1) and what the editor asks for each. The server has no
// route that lists them (it only serves default models per type id, GET /api/models),
// so this is the UI's one table of type ids, labels and type-specific fields.

/** A ChannelConfig key (spec 2.3) that the editor shows as its own input. */
export type ConfigField =
  | "api_version"
  | "library_id"
  | "plugin"
  | "user_id"
  | "region"
  | "ak"
  | "sk"
  | "vertex_ai_project_id"
  | "vertex_ai_adc";

/** How the base URL input behaves for a type. */
export type BaseUrlMode = "optional" | "required" | "none";

export interface ChannelType {
  id: number;
  /** Label in English and Chinese (product names stay as they are). */
  en: string;
  zh: string;
  color: string;
  /** Default upstream base URL ("" when the type has none). */
  defaultBaseUrl: string;
  baseUrl: BaseUrlMode;
  /** Config inputs, in display order; `required` ones must be filled. */
  config: { field: ConfigField; required?: boolean; multiline?: boolean; placeholder?: string }[];
  /** The key is built from config inputs (AWS, Vertex AI): no key input, no batch mode. */
  keyFromConfig?: ConfigField[];
  /** Hint of the key's format, e.g. "APIKey|SecretKey". */
  keyFormat?: string;
  /** Listed but not offered for new channels. */
  deprecated?: boolean;
}

type Row = [number, string, string, string, string, Partial<Omit<ChannelType, "id" | "en" | "zh" | "color" | "defaultBaseUrl">>?];

const ROWS: Row[] = [
  [1, "OpenAI", "OpenAI", "green", "https://api.openai.com"],
  [50, "OpenAI compatible", "OpenAI 兼容", "olive", "", { baseUrl: "required" }],
  [14, "Anthropic Claude", "Anthropic Claude", "black", "https://api.anthropic.com"],
  [33, "AWS Claude", "AWS Claude", "black", "", {
    baseUrl: "none",
    config: [{ field: "region", required: true, placeholder: "us-east-1" }, { field: "ak", required: true }, { field: "sk", required: true }],
    keyFromConfig: ["ak", "sk", "region"],
  }],
  [3, "Azure OpenAI", "Azure OpenAI", "olive", "", {
    baseUrl: "required",
    config: [{ field: "api_version", placeholder: "2024-03-01-preview" }],
  }],
  [11, "Google PaLM2", "Google PaLM2", "orange", "https://generativelanguage.googleapis.com"],
  [24, "Google Gemini", "Google Gemini", "orange", "https://generativelanguage.googleapis.com", {
    config: [{ field: "api_version", placeholder: "v1beta" }],
  }],
  [51, "Gemini (OpenAI)", "Gemini (OpenAI)", "orange", "https://generativelanguage.googleapis.com/v1beta/openai/"],
  [28, "Mistral AI", "Mistral AI", "orange", "https://api.mistral.ai"],
  [41, "Novita", "Novita", "purple", "https://api.novita.ai/v3/openai"],
  [40, "ByteDance Doubao (Volcengine)", "字节火山引擎", "blue", "https://ark.cn-beijing.volces.com"],
  [15, "Baidu ERNIE (Qianfan)", "百度文心千帆", "blue", "https://aip.baidubce.com", { keyFormat: "APIKey|SecretKey" }],
  [47, "Baidu ERNIE (Qianfan) V2", "百度文心千帆 V2", "blue", "https://qianfan.baidubce.com"],
  [17, "Alibaba Qwen (DashScope)", "阿里通义千问", "orange", "https://dashscope.aliyuncs.com", {
    config: [{ field: "plugin", placeholder: "" }],
  }],
  [49, "Alibaba Cloud Bailian", "阿里云百炼", "orange", "https://dashscope.aliyuncs.com"],
  [18, "iFlytek Spark (WebSocket)", "讯飞星火认知", "blue", "", {
    baseUrl: "none",
    config: [{ field: "api_version", placeholder: "v3.5" }],
    keyFormat: "APPID|APISecret|APIKey",
  }],
  [48, "iFlytek Spark V2 (HTTP)", "讯飞星火认知 V2", "blue", "https://spark-api-open.xf-yun.com"],
  [16, "Zhipu ChatGLM", "智谱 ChatGLM", "violet", "https://open.bigmodel.cn", { keyFormat: "id.secret" }],
  [19, "360 AI Brain", "360 智脑", "gray", "https://ai.360.cn"],
  [25, "Moonshot AI", "Moonshot AI", "dark", "https://api.moonshot.cn"],
  [23, "Tencent Hunyuan", "腾讯混元", "teal", "https://hunyuan.tencentcloudapi.com", { keyFormat: "AppId|SecretId|SecretKey" }],
  [26, "Baichuan", "百川大模型", "orange", "https://api.baichuan-ai.com"],
  [27, "MiniMax", "MiniMax", "red", "https://api.minimax.chat"],
  [29, "Groq", "Groq", "orange", "https://api.groq.com/openai"],
  [30, "Ollama", "Ollama", "dark", "http://localhost:11434"],
  [31, "01.AI (Lingyi Wanwu)", "零一万物", "green", "https://api.lingyiwanwu.com"],
  [32, "StepFun", "阶跃星辰", "blue", "https://api.stepfun.com"],
  [34, "Coze", "Coze", "blue", "https://api.coze.com", { config: [{ field: "user_id" }] }],
  [35, "Cohere", "Cohere", "blue", "https://api.cohere.ai"],
  [36, "DeepSeek", "DeepSeek", "dark", "https://api.deepseek.com"],
  [37, "Cloudflare", "Cloudflare", "orange", "https://api.cloudflare.com", {
    config: [{ field: "user_id", required: true }],
  }],
  [38, "DeepL", "DeepL", "dark", "https://api-free.deepl.com"],
  [39, "together.ai", "together.ai", "blue", "https://api.together.xyz"],
  [42, "Google Vertex AI", "Google Vertex AI", "blue", "", {
    baseUrl: "none",
    config: [
      { field: "region", required: true, placeholder: "us-central1" },
      { field: "vertex_ai_project_id", required: true },
      { field: "vertex_ai_adc", required: true, multiline: true },
    ],
    keyFromConfig: ["region", "vertex_ai_project_id", "vertex_ai_adc"],
  }],
  [43, "Proxy", "Proxy", "blue", "", { baseUrl: "required" }],
  [44, "SiliconFlow", "SiliconFlow", "blue", "https://api.siliconflow.cn"],
  [45, "xAI", "xAI", "blue", "https://api.x.ai"],
  [46, "Replicate", "Replicate", "blue", "https://api.replicate.com/v1/models/"],
  [8, "Custom (deprecated)", "自定义渠道（已弃用）", "pink", "", { baseUrl: "required", deprecated: true }],
  [22, "Knowledge base: FastGPT", "知识库：FastGPT", "blue", "https://fastgpt.run/api/openapi", { keyFormat: "APIKey-AppId" }],
  [21, "Knowledge base: AI Proxy", "知识库：AI Proxy", "purple", "https://api.aiproxy.io", {
    config: [{ field: "library_id", required: true }],
  }],
  [20, "OpenRouter", "OpenRouter", "black", "https://openrouter.ai/api"],
  [2, "Proxy: API2D", "代理：API2D", "blue", "https://oa.api2d.net"],
  [5, "Proxy: OpenAI-SB", "代理：OpenAI-SB", "brown", "https://api.openai-sb.com"],
  [7, "Proxy: OhMyGPT", "代理：OhMyGPT", "purple", "https://api.ohmygpt.com"],
  [10, "Proxy: AI Proxy", "代理：AI Proxy", "purple", "https://api.aiproxy.io"],
  [4, "Proxy: CloseAI", "代理：CloseAI", "teal", "https://api.closeai-proxy.xyz"],
  [6, "Proxy: OpenAI Max", "代理：OpenAI Max", "violet", "https://api.openaimax.com"],
  [9, "Proxy: AI.LS", "代理：AI.LS", "yellow", "https://api.caipacity.com"],
  [12, "Proxy: API2GPT", "代理：API2GPT", "blue", "https://api.api2gpt.com"],
  [13, "Proxy: AIGC2D", "代理：AIGC2D", "purple", "https://api.aigc2d.com"],
];

/** Every selectable type, in the order the type select shows them. */
export const CHANNEL_TYPES: readonly ChannelType[] = ROWS.map(([id, en, zh, color, defaultBaseUrl, extra]) => ({
  id,
  en,
  zh,
  color,
  defaultBaseUrl,
  baseUrl: "optional",
  config: [],
  ...extra,
}));

const BY_ID = new Map(CHANNEL_TYPES.map((type) => [type.id, type]));

const UNKNOWN: ChannelType = {
  id: 0,
  en: "Unknown",
  zh: "未知",
  color: "gray",
  defaultBaseUrl: "",
  baseUrl: "optional",
  config: [],
};

/** The type with this id (an unknown id gets a neutral "Unknown" entry). */
export function channelType(id: number): ChannelType {
  return BY_ID.get(id) ?? { ...UNKNOWN, id };
}

export function typeLabel(type: ChannelType, language: string): string {
  return language.startsWith("zh") ? type.zh : type.en;
}

export const DEFAULT_TYPE = 1;
export const AZURE_DEFAULT_API_VERSION = "2024-03-01-preview";

/** Types whose balance the server can query (GET /api/channel/update_balance/:id, spec 5.8). */
export const BALANCE_TYPES: ReadonlySet<number> = new Set([1, 4, 5, 8, 10, 12, 13, 20, 36, 44]);
