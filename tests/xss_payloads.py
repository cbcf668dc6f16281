"""Hostile model output: Markdown and HTML that tries to run script or navigate.

Every payload, if it ever ran, would call ``alert`` or navigate the page, so a
browser test can tell by listening for dialogs and navigations.
"""

PAYLOADS = [
    # raw HTML tags and event handlers
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//xss.invalid/x.js></SCRIPT>",
    "<<script>script>alert(1)<</script>/script>",
    "<img src=x onerror=alert(1)>",
    '<img src="x` `onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text y="20">x</text></a></svg>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<input autofocus onfocus=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<style>@import 'javascript:alert(1)';</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<base href="javascript:alert(1)//">',
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<a href="&#x6A;avascript:alert(1)">entity link</a>',
    "<a href=javascript:alert(1)>bare link</a>",
    "\x00<script>alert(1)</script>",
    # Markdown links, images and autolinks with dangerous schemes
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](\tjavascript:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](file:///etc/passwd)",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    '[title](https://example.com "t\\" onmouseover=\\"alert(1)")',
    '![alt](https://example.com/a.png "x\\" onerror=\\"alert(1)")',
    '[quote](https://example.com/"onmouseover="alert(1))',
    # linkify
    "https://example.com/<script>alert(1)</script>",
    'www.example.com/"onmouseover="alert(1)',
    # code, math and block escapes
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    '```"><script>alert(1)</script>\nx\n```',
    "$$<script>alert(1)</script>$$",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "> <script>alert(1)</script>",
    "- [item](javascript:alert(1))",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]
