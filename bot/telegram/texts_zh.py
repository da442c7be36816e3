"""Every word the bot says to users, in Simplified Chinese (same keys as `bot.telegram.texts.EN`)."""

from __future__ import annotations

from typing import Final

ZH: Final[dict[str, str]] = {
    "start": (
        "👋 你好！我可以把你的照片、视频片段和语音变成 AI 短视频。\n"
        "每个视频都会消耗我主人账户里的积分，所以请在确定需要时再发请求；/balance 可查看你的用量。\n\n"
        "试试看：发两张照片，附上下面这段文字，然后点 🎬 生成：\n"
        "“首帧为图片1，尾帧为图片2，镜头缓缓推进”\n\n"
        "更多用法见 /help。"
    ),
    "help": (
        "如何生成视频：\n"
        "1. 发送照片（最多 9 张）、视频片段（最多 3 个）和语音或音乐（最多 3 段）。"
        "也可以作为文件发送：HEIC、PNG、MOV、MP3 等。\n"
        "2. 用说明文字或一条消息描述视频。按草稿中的编号称呼文件：图片1、视频1、音频1，"
        "例如“首帧为图片1，镜头缓缓拉远；音频1作为背景音乐”。\n"
        "3. 用草稿下方的按钮设置时长、清晰度和画面比例，然后点 🎬 生成（或发送 /generate）。"
        "视频会作为回复发到这里。\n\n"
        "/generate [提示词] – 生成视频 · /cancel – 丢弃草稿\n"
        "/settings – 默认时长、清晰度、画面比例和声音\n"
        "/status – 生成中的视频 · /history – 最近的视频\n"
        "/balance – 你的视频用量"
    ),
    "help_group": (
        "在本群生成视频：\n"
        "• 回复一张照片、一段视频或一组相册，发送 /generate 加上描述，"
        "例如“/generate 首帧为图片1，镜头缓缓拉远”。\n"
        "• 或者发送照片，并让说明文字以 /generate 开头、后接描述。\n"
        "• 如果我的草稿请你补充描述，请回复草稿。\n"
        "每个人的草稿和视频各自独立；视频会回复到对应的请求。\n\n"
        "/settings – 本群默认设置（管理员）· /status · /history · /balance · /cancel"
    ),
    "help_group_privacy": (
        "\n\nℹ️ 在这里我只能看到命令和对我消息的回复（Telegram 对机器人的隐私模式），"
        "所以相册中我只能看到你回复的那一项。如需使用整组相册，群管理员可以把我设为管理员。"
    ),
    "album_partly_seen": (
        "ℹ️ 这组相册中我只能看到你回复的那一项：在本群 Telegram 只让我看到命令和对我消息的回复。"
        "我会使用这一项。如需在这里使用整组相册，群管理员可以把我设为管理员。"
    ),
    "command_generate": "用草稿生成视频",
    "command_settings": "默认时长、清晰度、画面比例和声音",
    "command_status": "生成中的视频",
    "command_history": "最近的视频",
    "command_balance": "你的视频用量",
    "command_cancel": "丢弃当前草稿",
    "command_help": "使用说明",
    "draft_title": "你的草稿",
    "draft_refs": "参考素材：{refs}",
    "draft_no_refs": "参考素材：暂无，请发一张照片或一段视频。",
    "draft_pending": "还有 {count} 个文件正在检查…",
    "draft_pending_one": "还有 1 个文件正在检查…",
    "draft_queue": "正在排队等待处理：前面还有其他人的 {ahead} 个文件。",
    "draft_queue_one": "正在排队等待处理：前面还有其他人的 1 个文件。",
    "draft_queue_next": "正在排队等待处理：下一个就是你的文件。",
    "draft_prompt": "提示词：{prompt}",
    "draft_no_prompt": "提示词：未设置，请发一条文字描述视频。",
    "draft_no_prompt_group": "提示词：未设置，请回复这条消息，用文字描述视频。",
    "draft_ask_prompt": "提示词：需要 – 请发一条文字描述视频，我会立即生成。",
    "draft_ask_prompt_group": "提示词：需要 – 请回复这条消息，用文字描述视频，我会立即生成。",
    "draft_moved": "这个草稿已移到下方我最新的消息里。",
    "draft_summary_cancelled": "草稿已丢弃。",
    "draft_options": "选项：{duration} 秒 · {quality} · {aspect} · 声音{sound}",
    "draft_menu_hint": "用下方按钮修改选项。",
    "draft_next": "发送 /generate 生成视频，或 /cancel 丢弃草稿。",
    "on": "开",
    "off": "关",
    "aspect_adaptive": "自动",
    "filter_off_note": "内容过滤已关闭：按 1.1 倍计费（违法违禁内容始终会被拦截）。",
    "cost_estimate": "费用：约 {credits} 积分（按你最近的视频估算），生成时会预扣准确数额。",
    "cost_unknown": "费用：生成时服务会预扣准确数额；/balance 可查看你的视频用量。",
    "cost_video_note": "使用参考视频会增加费用。",
    "btn_sound": "🔊 声音：{state}",
    "btn_filter": "🛡 内容过滤：{state}",
    "btn_remove": "➖ 移除文件",
    "btn_remove_item": "✖ {item}",
    "seconds": "{n} 秒",
    "btn_ideas": "💡 提示词灵感",
    "btn_generate": "🎬 生成",
    "btn_cancel": "🗑 取消",
    "btn_back": "« 返回",
    "btn_done": "✅ 完成",
    "btn_idea_new": "用我的素材生成新视频",
    "btn_idea_edit": "用图片1编辑视频1",
    "btn_idea_extend": "延长 / 拼接我的视频",
    "btn_again": "重新发送 #{id}",
    "ref_image": "图片{n}",
    "ref_video": "视频{n}",
    "ref_audio": "音频{n}",
    "what_stickers": "贴纸",
    "what_other": "这类消息",
    "reason_not_media": "它不是我能读取的照片、视频或音频文件，或者文件已损坏。请发送 JPEG/PNG/WebP 照片、MP4/MOV 视频，或 MP3/WAV/语音。",
    "reason_unsupported_codec": "它使用了我无法转换的视频格式（{codec}）。请发送 MP4（H.264）视频。",
    "reason_unsupported_format": "它的格式我无法解码（{format}）。请发送 JPEG 或 PNG 图片、MP4 视频或 MP3 文件。",
    "reason_unsupported_format_image": "这是一张我无法使用的格式的图片（{format}）。请发送 JPEG 或 PNG 图片。",
    "reason_unsupported_format_video": "它的画面格式我无法解码（{format}）。请发送 MP4（H.264）视频。",
    "reason_unsupported_format_audio": "它的声音格式我无法解码（{format}）。请发送 MP3 或 M4A 文件，或语音消息。",
    "reason_damaged_picture": "这是一张图片（{format}），但已损坏或不完整，我无法读取。请重新发送，或发送 JPEG 或 PNG 图片。",
    "reason_animation_unsupported": "这是一个动态 {format}，我无法把它转换成视频。请以 MP4 视频或 GIF 发送，或发送静态图片。",
    "reason_unprocessable": "我无法处理它：转换程序在处理它时停止了。请换一种格式发送——JPEG 或 PNG 图片、MP4 视频或 MP3 文件。",
    "reason_unprocessable_timeout": "我无法处理它：耗时超过了单个文件的上限。请发送更短或更小的文件。",
    "reason_unprocessable_cpu": "我无法处理它：所需计算时间超过了单个文件的上限。请发送更短或更小的文件。",
    "reason_unprocessable_memory": "我无法处理它：所需内存超过了单个文件的上限。请发送更小的文件。",
    "reason_unprocessable_interrupted": "我无法处理它：机器人在处理它时两次停止，因此不会再尝试。请换一种格式发送，或稍后再发送。",
    "idea_image": "图片{n}",
    "idea_video": "视频{n}",
    "idea_then": "，接",
    "idea_new": "{first}为首帧。<画面中什么在动、怎么动> <镜头如何运动> <氛围、光线、风格>。",
    "idea_new_last": "尾帧为{last}。",
    "idea_edit": "将视频1中的<某个物体>替换成图片1中的物体，运镜和节奏保持不变。",
    "idea_extend_one": "延长视频1：<接下来发生什么>，运镜风格保持不变。",
    "idea_extend_many": "{chain}：拼接成一个连贯的镜头，<前一段如何过渡到下一段>。",
    "idea_audio": "音频1作为背景音乐。",
    "idea_sent": "点击文字即可复制。填好尖括号里的内容，再作为提示词发给我：\n\n<code>{skeleton}</code>",
    "not_your_draft": "这是别人的草稿。",
    "draft_closed": "这个草稿已关闭。",
    "settings_title": "新草稿的默认设置：",
    "settings_group_title": "本群新草稿的默认设置（由管理员设置）：",
    "settings_saved": "默认设置已生效：每次点按都已即时保存。",
    "settings_admins_only": "只有群管理员可以修改本群的默认设置。",
    "balance": "账户剩余积分：{remaining}{used}",
    "balance_used": "（已用：{used}）",
    "balance_unknown": "服务没有返回剩余积分。",
    "balance_failed": "无法连接服务查询余额，请稍后再试。",
    "balance_admin_private": "账户积分只在与我的私聊中显示。",
    "usage_title": "你的视频：",
    "usage_today": "• 今天：{count} 个",
    "usage_today_limit": "• 今天：{count} / {limit} 个（每日上限，UTC 零点重置）",
    "usage_running": "• 生成中：{count} 个",
    "usage_credits": "• 为它们预扣的积分：今天 {today}，累计 {total}",
    "balance_key_refused": "机器人的设置有误：视频服务不接受它的密钥，因此无法查询余额。已通知机器人的所有者。",
    "history_none": "你在这里还没有视频。",
    "history_title": "你在这里最近的视频（时间为 UTC）：",
    "history_line": "• #{id} {when}：{state} – {prompt}",
    "history_state_delivered": "✅ 已发送",
    "history_state_running": "⏳ 生成中",
    "history_state_failed": "❌ 失败",
    "history_state_link": "🔗 已发送链接",
    "history_state_refused": "↩️ 未提交",
    "history_state_unknown": "⚠️ 未确认",
    "history_resent": "已重新发送。",
    "history_gone": "这个视频已无法再发送。",
    "not_allowed": "抱歉，这是私人机器人。请联系它的所有者开通权限。",
    "quota_daily": "你今天已达到 {limit} 个视频的上限，UTC 午夜后重置。",
    "quota_running": "你已有 {limit} 个视频在生成中。请等其中一个完成后再试。",
    "reply_without_media": "请用 /generate 回复一条带照片、视频或声音的消息，或发送媒体并让说明文字以 /generate 开头。",
    "ordinal": "第{n}个",
    "prompt_saved": "提示词已保存。准备好后发送 /generate。",
    "prompt_too_long": (
        "提示词太长了：服务最多接受约 3,300 个汉字，或约 10,000 个英文字母（一个表情符号算 4 个字母）。"
        "你的提示词超出约 {percent}%，请缩短后重新发送。"
    ),
    "nothing_to_generate": "还没有可生成的内容：请发一张照片，并附上描述视频的文字。",
    "need_visual": "请先添加一张照片或一段视频：服务需要画面作为基础。",
    "waiting_for_files": "⏳ 正在准备你的文件，准备好后我会立即提交。",
    "already_submitted": "草稿已经提交，请查看 /status。发送新照片即可开始新的草稿。",
    "draft_cancelled": "草稿已丢弃。",
    "draft_cancelled_file": "草稿已丢弃，其中的文件也一并丢弃。",
    "draft_cancelled_files": "草稿已丢弃，其中的 {count} 个文件也一并丢弃。",
    "cannot_stop": "没有可丢弃的草稿。你的视频 {ids} 已在生成中，服务不支持中途停止，完成后会发到这里。",
    "nothing_to_cancel": "没有可丢弃的草稿。",
    "status_none": "你没有正在生成的视频。",
    "status_title": "正在生成的视频：",
    "status_line": "• #{id}：{state}{progress} – {minutes} 分钟前开始",
    "state_preparing": "准备文件中",
    "state_submitting": "提交中",
    "state_pending": "排队中",
    "state_processing": "生成中",
    "state_unknown": "⚠️ 已发送，未确认 – 等待服务回复",
    "unsupported_kind": "{what}不能用作参考素材：请发送照片、视频、语音或音乐。草稿没有变化。",
    "source_photo": "照片",
    "source_document": "文件",
    "source_video": "视频",
    "source_video_note": "视频消息",
    "source_animation": "GIF",
    "source_voice": "语音",
    "source_audio": "音频文件",
    "kinds_image": "图片",
    "kinds_video": "视频",
    "kinds_audio": "音频",
    "item_file": "文件{name}",
    "item_only": "{noun}",
    "item_nth": "{nth}{noun}",
    "rejected": "{item}无法使用：{reason}草稿其余内容已保留。",
    "reason_not_an_image": "无法识别为图片。请发送 JPEG、PNG 或 WebP 格式的照片。",
    "reason_not_a_video_audio": "它只有声音没有画面。若要使用这段声音，请作为语音或音乐文件发送；或者发送带画面的视频。",
    "reason_not_a_video_image": "它是一张静态图片，不是视频。请作为照片发送。",
    "reason_not_a_video": "无法识别为视频。请发送 MP4 或 MOV 格式的片段。",
    "reason_no_video_stream": "其中没有可用的画面或声音。",
    "reason_no_audio_stream": "其中没有声音。",
    "reason_not_supported": "不支持这种文件。请发送照片、视频、语音或音乐。",
    "reason_corrupt": "文件已损坏或格式无法识别。请重新发送。",
    "reason_too_small": (
        "尺寸为 {width}×{height} px，服务要求每边至少 {min} px。请发送更大的图片。"
    ),
    "reason_too_many_pixels": "像素过多，无法安全处理（{width}×{height}）。请发送较小的版本。",
    "reason_too_many_pixels_unsized": "像素过多，无法安全处理（超过 {max_mp} 百万像素）。请发送较小的版本。",
    "reason_too_big": "大小为 {size_mb} MB，上限为 {limit_mb} MB。请发送更小的文件。",
    "reason_too_big_for_telegram": (
        "大小为 {size_mb} MB，而 Telegram 只允许机器人下载最多 20 MB。请发送更短或压缩过的版本。"
    ),
    "reason_too_big_to_download": "它超过了 {limit_mb} MB，这是本机器人接受的上限。请发送更短或压缩过的版本。",
    "reason_too_short": "时长 {seconds} 秒，服务要求至少 {min} 秒。请发送更长的片段。",
    "reason_too_long": "时长 {seconds} 秒，最多只能使用 {max} 秒。请先剪短。",
    "reason_too_many": (
        "草稿中的{kinds}数量已达上限（{limit}）。如想改用这一个，请用草稿下方的“➖ 移除文件”"
        "移除一个，再重新发送它；或直接用现有素材生成。"
    ),
    "reason_no_budget": "草稿中的{kinds}总时长已达到服务上限 {total} 秒。",
    "reason_download_failed": "无法从 Telegram 下载。请重新发送。",
    "reason_hosting_failed": "无法上传给服务（{detail}）。请稍后再试。",
    "reason_disk_full": "机器人服务器的磁盘空间已满，无法保存它。请稍后再试；机器人的管理员可在日志中看到此问题。",
    "reason_storage_error": "机器人无法在服务器上保存它。请稍后再试；机器人的管理员可在日志中看到此问题。",
    "reason_timeout": "处理时间过长。请发送更短或更小的文件。",
    "change_converted": "已从 {from} 转换为 {to}",
    "change_downscaled": "已从 {from} 缩小到 {to}",
    "change_upscaled": "已从 {from} 放大到 {to}",
    "change_padded": "已从 {from} 补边到 {to}，以符合允许的画面比例",
    "change_rotated": "已旋转为正向",
    "change_compressed": "已压缩以符合大小限制",
    "change_trimmed": "已从 {from} 秒剪到 {to} 秒，以符合 15 秒总时长",
    "change_fps_changed": "帧率已从 {from} 改为 {to} fps",
    "change_fps_changed_unknown": "帧率已设为 {to} fps（文件未注明帧率）",
    "change_audio_removed": "移除了无法读取的音轨",
    "change_audio_extracted": "已从视频中提取声音",
    "change_metadata_removed": "已移除隐藏信息：{what}",
    "meta_location": "位置",
    "meta_date": "日期和时间",
    "meta_device": "相机或手机型号",
    "meta_camera_settings": "相机设置",
    "meta_author": "作者姓名",
    "meta_comment": "注释",
    "meta_xmp": "编辑信息（XMP）",
    "meta_iptc": "说明（IPTC）",
    "meta_text": "文字注记",
    "meta_other": "其他隐藏信息",
    "changed": "{item}：{changes}。",
    "submitting": "⏳ 正在提交视频请求…",
    "progress": "🎬 正在生成视频… {progress}%{credits}{eta}",
    "progress_credits": " · 已预扣 {credits} 积分",
    "progress_eta": " · 约 {minutes} 分钟后完成",
    "progress_eta_soon": " · 即将完成",
    "done_status": "✅ 完成，视频在下方。",
    "done_caption": "“{prompt}”\n{duration} 秒 · {quality}{credits}",
    "btn_again_cost": "🔁 再来一次 · {credits} 积分",
    "btn_again_video": "🔁 再来一次",
    "btn_try_again": "🔁 重试",
    "btn_edit": "✏️ 修改",
    "not_your_video": "这是别人的视频。",
    "rerun_already": "这个视频已经在重新生成了：见 #{id}。",
    "edit_draft_open": "你在这里已有一个草稿：请先发送 /generate 或用 /cancel 丢弃它。",
    "credits_caption": " · {credits} 积分",
    "video_too_big": (
        "视频已生成，但超出 Telegram 的大小限制（{size_mb} MB）。"
        "请在这里下载，链接在生成 24 小时后失效：\n{url}"
    ),
    "delivery_uncertain": (
        "视频可能已经发出，但我无法确认。如果上方没有，请在这里下载"
        "（链接在生成 24 小时后失效）：\n{url}"
    ),
    "delivery_failed": (
        "视频已生成，但我无法发送。请在这里下载（链接在生成 24 小时后失效）：\n{url}"
    ),
    "result_expired": "视频已生成，但下载链接在我发送前已过期。",
    "failed": "❌ 视频生成失败：{reason}",
    "failed_retry": "再试一次也许能成功：点 🔁 重试。",
    "fail_content_policy_violation": "被服务的内容政策拦截。请换个提示词或图片试试。",
    "fail_invalid_parameters": "服务未接受该请求（{message}）。",
    "fail_image_processing_error": "服务无法处理其中一张图片。请换其他图片试试。",
    "fail_image_dimension_mismatch": "图片的尺寸或比例不符合服务要求。请换其他图片试试。",
    "fail_generic": "服务报告了错误（{message}）。",
    "refused": (
        "❌ 服务拒绝了请求：{message}\n未扣费。草稿已恢复，修改后再次发送 /generate 即可。"
    ),
    "refused_kept": "❌ 服务拒绝了请求：{message}\n未扣费。",
    "quota": "❌ 服务账户的积分已用完，未提交任何请求。请告知机器人的所有者。",
    "service_auth": "❌ 机器人的设置有误：视频服务不接受它的密钥，因此没有提交，也没有扣费。已通知机器人的所有者。你的草稿已保留——请稍后再发送 /generate。",
    "service_down": (
        "❌ 视频服务暂时无响应，未提交任何请求。草稿已恢复，请几分钟后再试 /generate。"
    ),
    "submit_unknown_waiting": (
        "⚠️ 请求发出后与视频服务的连接中断了，我无法确认它是否被接受。\n"
        "服务很可能已经开始生成：如果是，视频会发到这里。请先不要再次发送这个请求——那样可能会付两次费。"
        "如果到 {until}（UTC）还没有结果，我会告诉你。"
    ),
    "submit_unknown_untraceable": (
        "⚠️ 请求发出后与视频服务的连接中断了，我无法判断它是否被接受。如果已被接受，费用已经产生，"
        "但没有服务的回复我无法追踪它，视频也无法通过我送到你这里。\n"
        "在机器人的主人核对账户最近的用量之前，请不要再次发送：现在重发可能会付两次费。"
    ),
    "submit_unknown_closed": (
        "⚠️ 你在 {since}（UTC）发出的请求一直没有得到视频服务的确认，也没有收到视频，"
        "所以它很可能没有生成——但我无法确定。你现在可以重新发送；/history 会把它显示为未确认，"
        "机器人的主人可以核对账户用量。如果它的视频之后出现，我仍会发到这里。"
    ),
    "submit_confirmed": "✅ 视频服务最终确认了你的请求：视频正在生成，完成后会发到这里。",
    "failed_deadline": (
        "⏳ 你的视频在 {minutes} 分钟内没有完成，我已停止等待。"
        "如果它在你发出请求后 24 小时内完成，我会把它发到这里。"
    ),
    "status_see_reply": "⬇️ 请看下方我的回复。",
    "status_unconfirmed": "⚠️ 已发送，但未确认 – 见下方。",
    "status_not_submitted": "↩️ 未提交 – 见下方。",
    "status_failed": "❌ 没有视频 – 见下方。",
    "status_confirmed": "🎬 正在生成视频…",
    "hosting_failed": "❌ 无法为服务上传你的文件（{message}），因此没有提交。草稿已退回——请几分钟后再发送 /generate。如果一直如此，机器人的管理员可以把 MEDIA_HOSTING 改为 local 或 s3。",
    "internal_error": "抱歉，我这边出了点问题。草稿已保留，请再试一次。",
    "more_lines": "……还有 {count} 行",
    "more_chars": "……（还有 {count} 个字符）",
    "more_changes": "……还有 {count} 个文件的修改说明",
    "more_videos": "……还有 {count} 个视频",
}
