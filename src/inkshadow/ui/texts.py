"""Every word the UI shows, in Chinese and English. Chinese is the default: the first users
write Chinese. `t(lang, key, **values)` picks one; unknown languages fall back to Chinese."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"
LANG_CHOICES: list[tuple[str, str]] = [("中文", "zh"), ("English", "en")]

_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("墨影 · 视频理解", "inkshadow · video understanding"),
    "lang": ("语言 / Language", "Language / 语言"),
    "tab.chat": ("对话", "Chat"),
    "tab.analysis": ("分析", "Analysis"),
    "tab.jobs": ("长视频任务", "Jobs"),
    "tab.status": ("状态", "Status"),
    "tiny.banner": (
        "⚠️ 当前模型是随机权重的测试模型：它的回答只是噪声，不代表任何理解。",
        "⚠️ This server runs a random-weight test model: its answers are noise, not understanding.",
    ),
    # chat
    "chat.box": ("对话记录", "Conversation"),
    "chat.input": ("消息（可附加图片或视频）", "Message (attach images or videos)"),
    "chat.input_ph": ("就图片或视频提问…", "Ask about an image or a video…"),
    "chat.url": ("媒体链接（可选，图片或视频 URL）", "Media URL (optional, image or video)"),
    "chat.url_ph": ("https://example.com/clip.mp4", "https://example.com/clip.mp4"),
    "chat.clear": ("清空对话", "Clear history"),
    "chat.no_sessions": (
        "此服务器没有会话功能（{reason}）：刷新页面后对话不会保留。",
        "This server keeps no chat sessions ({reason}): the conversation will not "
        "survive a reload.",
    ),
    "chat.session": (
        "会话 {id}：刷新页面后对话仍在（闲置 1 小时后过期）。",
        "Session {id}: the conversation survives a reload (expires after an idle hour).",
    ),
    "chat.empty": ("请输入问题或附加媒体。", "Type a question or attach media."),
    "chat.video": ("附件·视频", "Video"),
    "chat.image": ("附件·图片", "Image"),
    # analysis and jobs (shared request form)
    "an.video": ("视频（上传）", "Video (upload)"),
    "an.url": ("或视频链接", "Or a video URL"),
    "an.task": ("任务类型", "Task"),
    "an.query": ("问题或目标", "Question or target"),
    "an.query_ph": ("例如：人什么时候开门？", "e.g. When does the person open the door?"),
    # 0 in a number field means "server default" (Gradio shows an empty Number as 0).
    "an.fps": ("帧率 fps（0=默认）", "fps (0 = default)"),
    "an.max_frames": ("最多帧数（0=默认）", "Max frames (0 = default)"),
    "an.start": ("开始（秒）", "Start (s)"),
    "an.end": ("结束（秒，0=结尾）", "End (s, 0 = to the end)"),
    "an.more": ("采样与片段（可选）", "Sampling and clip (optional)"),
    "an.poetic": ("附诗意化回答", "Add a poetic rendering"),
    "an.run": ("开始分析", "Analyze"),
    "an.answer": ("回答", "Answer"),
    "an.timeline": ("事件时间轴（点击跳转视频）", "Timeline of events (click to seek)"),
    "an.no_events": ("没有定位到事件。", "No events were located."),
    "an.frames": ("采样帧与检测框（原始分辨率）", "Sampled frames with boxes (original size)"),
    "an.frames_url": (
        "检测框只绘制在上传的视频上（链接视频不在本机解码）。",
        "Boxes are drawn for uploaded videos only (linked videos are not decoded here).",
    ),
    "an.json": ("原始 JSON", "Raw JSON"),
    "an.saved": ("打开已保存的结果", "Open a saved result"),
    "an.saved_file": (
        "结果 JSON（如 inkshadow analyze 或任务的输出），显示在上面的视频上",
        "Result JSON (from inkshadow analyze or a job), shown over the video above",
    ),
    "an.saved_bad": (
        "不是分析结果 JSON（{message}）。",
        "Not an analysis result JSON ({message}).",
    ),
    "an.need_video": ("请上传视频或填写视频链接。", "Upload a video or give a video URL."),
    "an.need_query": ("请填写问题或目标。", "Type a question or a target."),
    "an.warnings": ("提示", "Warnings"),
    "an.sampling": (
        "视频 {duration:.1f} 秒，{width}×{height}；采样 {frames} 帧（{fps:.2f} fps，"
        "{swidth}×{sheight}）",
        "Video {duration:.1f} s, {width}×{height}; sampled {frames} frames ({fps:.2f} fps, "
        "{swidth}×{sheight})",
    ),
    "task.ask": ("提问", "Ask"),
    "task.temporal": ("时间定位", "When (temporal)"),
    "task.spatial": ("空间定位", "Where (spatial)"),
    "task.track": ("跟踪", "Track"),
    "task.describe": ("逐段描述", "Describe"),
    # jobs
    "jobs.submit": ("提交任务", "Submit job"),
    "jobs.progress": ("进度", "Progress"),
    "jobs.id": ("任务 ID", "Job ID"),
    "jobs.open": ("打开结果", "Open result"),
    "jobs.refresh": ("刷新列表", "Refresh list"),
    "jobs.list": ("最近的任务", "Recent jobs"),
    "jobs.none": ("还没有任务。", "No jobs yet."),
    "jobs.state": (
        "任务 {id}：{status}，{done}/{total} 段",
        "Job {id}: {status}, {done}/{total} chunks",
    ),
    "jobs.failed": ("任务失败：{message}", "The job failed: {message}"),
    "jobs.cols": ("ID|状态|进度|创建时间", "ID|Status|Progress|Created"),
    "jobs.no_video": (
        "未绘制检测框：这个任务的视频不在本页（页面刷新过，或任务是在别处提交的）。"
        "可在“分析”页上传同一视频，再用“打开已保存的结果”打开下面的 JSON。",
        "No boxes drawn: this job's video is not in this page (it was reloaded, or the job "
        "was submitted elsewhere). Upload the same video on the Analysis tab and open the "
        "JSON below there with “Open a saved result”.",
    ),
    "status.queued": ("排队中", "queued"),
    "status.running": ("运行中", "running"),
    "status.succeeded": ("已完成", "succeeded"),
    "status.failed": ("失败", "failed"),
    "status.cancelled": ("已取消", "cancelled"),
    # status
    "st.refresh": ("刷新状态", "Refresh status"),
    "st.heading": ("服务状态", "Server status"),
    "st.api": ("API 地址", "API"),
    "st.model": ("模型", "Model"),
    "st.engine": ("引擎", "Engine"),
    "st.family": ("模型系列", "Family"),
    "st.health": ("健康", "Health"),
    "st.ready": ("就绪", "Ready"),
    "st.ok": ("正常", "ok"),
    "st.down": ("异常", "failing"),
    "st.unreachable": ("无法连接", "unreachable"),
    "st.random": ("随机权重测试模型", "random-weight test model"),
    # errors
    "err.not_available": (
        "此服务器不提供该功能：{route} 不存在。",
        "Not available on this server: {route} is missing.",
    ),
    "err.api": ("API 错误：{message}", "API error: {message}"),
    "err.internal": ("界面内部错误，详情见界面日志。", "Internal UI error; see the UI's log."),
    "err.frames": ("无法解码视频帧：{message}", "Could not decode video frames: {message}"),
}


def t(lang: str, key: str, **values: object) -> str:
    zh, en = _TEXTS[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def task_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(lang, f"task.{name}"), name) for name in TASKS]


TASKS = ("ask", "temporal", "spatial", "track", "describe")
