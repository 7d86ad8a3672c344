<?xml version='1.0' encoding='UTF-8'?>
<!-- Renders an XEP document (the xsf/xeps XML vocabulary, the subset rpsync.xml uses)
     to one self-contained HTML page. Usage:
       xsltproc -nonet -o rpsync.html xep2html.xsl rpsync.xml -->
<xsl:stylesheet version='1.0' xmlns:xsl='http://www.w3.org/1999/XSL/Transform'>

  <xsl:output method='html' encoding='UTF-8' indent='no'
              doctype-system='about:legacy-compat'/>

  <xsl:variable name='number' select='/xep/header/number'/>
  <xsl:variable name='fulltitle' select='concat("XEP-", $number, ": ", /xep/header/title)'/>

  <xsl:template match='/'>
    <html lang='en'>
      <head>
        <meta charset='utf-8'/>
        <title><xsl:value-of select='$fulltitle'/></title>
        <style>
          body { font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
                 line-height: 1.45; color: #222; }
          h1 { font-size: 1.8em; border-bottom: 2px solid #36c; padding-bottom: .2em; }
          h2 { font-size: 1.4em; margin-top: 2em; border-bottom: 1px solid #ccc; }
          h3 { font-size: 1.15em; margin-top: 1.5em; }
          h4 { font-size: 1em; }
          a { color: #1a4fa0; }
          .abstract { font-style: italic; }
          table { border-collapse: collapse; margin: 1em 0; }
          th, td { border: 1px solid #bbb; padding: .25em .5em; vertical-align: top;
                   text-align: left; overflow-wrap: anywhere; }
          th { background: #eef2f8; }
          table.meta th { background: none; border: none; padding-right: 1em; }
          table.meta td { border: none; }
          caption { caption-side: top; font-weight: bold; text-align: left; padding: .3em 0; }
          pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: .6em .8em;
                overflow-x: auto; font-size: .88em; line-height: 1.3; }
          .example-caption, .code-caption { font-weight: bold; margin: 1em 0 .2em; }
          .toc ul { list-style: none; padding-left: 1.2em; }
          .toc > ul { padding-left: 0; }
          .legal { font-size: .9em; color: #555; }
          dt { font-weight: bold; margin-top: .5em; }
          tt, code { font-family: monospace; }
        </style>
      </head>
      <body>
        <xsl:apply-templates select='xep/header'/>
        <div class='toc'>
          <h2>Table of Contents</h2>
          <ul><xsl:apply-templates select='xep/section1' mode='toc'/></ul>
        </div>
        <xsl:apply-templates select='xep/section1'/>
        <h2 id='revisions'>Revision History</h2>
        <xsl:apply-templates select='xep/header/revision'/>
      </body>
    </html>
  </xsl:template>

  <!-- Header -->

  <xsl:template match='header'>
    <h1><xsl:value-of select='$fulltitle'/></h1>
    <p class='abstract'><xsl:value-of select='abstract'/></p>
    <table class='meta'>
      <tr><th>Authors</th><td>
        <xsl:for-each select='author'>
          <xsl:value-of select='normalize-space(concat(firstname, " ", surname))'/>
          <xsl:if test='email'> &lt;<xsl:value-of select='email'/>&gt;</xsl:if>
          <xsl:if test='position() != last()'>, </xsl:if>
        </xsl:for-each>
      </td></tr>
      <tr><th>Version</th><td><xsl:value-of select='revision[1]/version'/>
        (<xsl:value-of select='revision[1]/date'/>)</td></tr>
      <tr><th>Status</th><td><xsl:value-of select='status'/></td></tr>
      <tr><th>Type</th><td><xsl:value-of select='type'/></td></tr>
      <tr><th>SIG</th><td><xsl:value-of select='sig'/></td></tr>
      <xsl:if test='approver'>
        <tr><th>Approver</th><td><xsl:value-of select='approver'/></td></tr>
      </xsl:if>
      <tr><th>Dependencies</th><td>
        <xsl:for-each select='dependencies/spec'>
          <xsl:value-of select='.'/><xsl:if test='position() != last()'>, </xsl:if>
        </xsl:for-each>
      </td></tr>
      <tr><th>Supersedes</th><td><xsl:call-template name='none-if-empty'>
        <xsl:with-param name='v' select='supersedes'/></xsl:call-template></td></tr>
      <tr><th>Superseded By</th><td><xsl:call-template name='none-if-empty'>
        <xsl:with-param name='v' select='supersededby'/></xsl:call-template></td></tr>
      <tr><th>Short Name</th><td><xsl:value-of select='shortname'/></td></tr>
    </table>
    <div class='legal'><xsl:apply-templates select='legal/node()'/></div>
  </xsl:template>

  <xsl:template name='none-if-empty'>
    <xsl:param name='v'/>
    <xsl:choose>
      <xsl:when test='normalize-space($v)'><xsl:value-of select='$v'/></xsl:when>
      <xsl:otherwise>None</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match='revision'>
    <h3>Version <xsl:value-of select='version'/> (<xsl:value-of select='date'/>)</h3>
    <xsl:apply-templates select='remark/node()'/>
    <p><em><xsl:value-of select='initials'/></em></p>
  </xsl:template>

  <!-- Sections, numbered like the XSF renderer: 1, 1.1, 1.1.1 -->

  <xsl:template name='secnum'>
    <xsl:number level='multiple' count='section1|section2|section3|section4' format='1.1'/>
  </xsl:template>

  <xsl:template name='anchor'>
    <xsl:choose>
      <xsl:when test='@anchor'><xsl:value-of select='@anchor'/></xsl:when>
      <xsl:otherwise>sect-<xsl:value-of select='generate-id()'/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match='section1|section2|section3' mode='toc'>
    <li>
      <a><xsl:attribute name='href'>#<xsl:call-template name='anchor'/></xsl:attribute>
        <xsl:call-template name='secnum'/>. <xsl:value-of select='@topic'/></a>
      <xsl:if test='section2|section3'>
        <ul><xsl:apply-templates select='section2|section3' mode='toc'/></ul>
      </xsl:if>
    </li>
  </xsl:template>

  <xsl:template match='section1|section2|section3|section4'>
    <xsl:variable name='level' select='number(substring-after(local-name(), "section")) + 1'/>
    <xsl:element name='h{$level}'>
      <xsl:attribute name='id'><xsl:call-template name='anchor'/></xsl:attribute>
      <xsl:call-template name='secnum'/>. <xsl:value-of select='@topic'/>
    </xsl:element>
    <xsl:apply-templates/>
  </xsl:template>

  <!-- Block content -->

  <xsl:template match='p|ul|ol|li|dl|dt|dd|em|strong|tt|tr|th|td'>
    <xsl:element name='{local-name()}'>
      <xsl:copy-of select='@class'/>
      <xsl:apply-templates/>
    </xsl:element>
  </xsl:template>

  <xsl:template match='di'><xsl:apply-templates/></xsl:template>

  <xsl:template match='span'>
    <xsl:choose>
      <xsl:when test='@class = "super"'><sup><xsl:apply-templates/></sup></xsl:when>
      <xsl:otherwise><span><xsl:copy-of select='@class'/><xsl:apply-templates/></span></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match='link'>
    <a href='{@url}'><xsl:apply-templates/></a>
  </xsl:template>

  <xsl:template match='example'>
    <div class='example'>
      <xsl:attribute name='id'>example-<xsl:number level='any' count='example'/></xsl:attribute>
      <p class='example-caption'>Example <xsl:number level='any' count='example'/>.
        <xsl:value-of select='@caption'/></p>
      <pre><xsl:call-template name='trim-block'><xsl:with-param name='s' select='.'/></xsl:call-template></pre>
    </div>
  </xsl:template>

  <xsl:template match='code'>
    <xsl:if test='@caption'><p class='code-caption'><xsl:value-of select='@caption'/></p></xsl:if>
    <pre><xsl:call-template name='trim-block'><xsl:with-param name='s' select='.'/></xsl:call-template></pre>
  </xsl:template>

  <xsl:template match='table'>
    <table>
      <xsl:if test='@caption'>
        <caption>Table <xsl:number level='any' count='table[@caption]'/>:
          <xsl:value-of select='@caption'/></caption>
      </xsl:if>
      <xsl:apply-templates select='tr'/>
    </table>
  </xsl:template>

  <!-- Drops the blank lines that open and close a CDATA block. -->
  <xsl:template name='trim-block'>
    <xsl:param name='s'/>
    <xsl:choose>
      <xsl:when test='starts-with($s, "&#10;")'>
        <xsl:call-template name='trim-block'>
          <xsl:with-param name='s' select='substring($s, 2)'/></xsl:call-template>
      </xsl:when>
      <xsl:when test='normalize-space(substring($s, string-length($s))) = ""
                      and string-length($s) &gt; 0'>
        <xsl:call-template name='trim-block'>
          <xsl:with-param name='s' select='substring($s, 1, string-length($s) - 1)'/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select='$s'/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
